package loadgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/dtbridge/dtbridge/pkg/doubletick"
)

// keyFields are the top-level payload fields an event's natural
// idempotency key is made of, read from the event table (one row per
// DoubleTick event), so [Template] can make their string values unique per
// request and no event is deduplicated by its natural key. At least one
// part of every natural key in the table is a string in its fixtures
// (TestEveryFixtureRequestIsUnique checks the dedup keys themselves).
func keyFields(event string) []string {
	spec, err := doubletick.Default().Lookup(event)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(spec.Key))
	for _, k := range spec.Key {
		out = append(out, strings.TrimSuffix(k, "?"))
	}
	return out
}

// UniqueField is the field [Template] adds to every body, so an event whose
// dedup key is a hash of the body gets a new key per request.
const UniqueField = "dtbenchSeq"

// marker stands for the per-request token in a template.
const marker = "\x00DTBENCH\x00"

// Template is a fixture with holes for a per-request token.
type Template struct {
	Event string // the DoubleTick event name (the URL's last segment)
	Name  string // the fixture's file name without .json
	parts [][]byte
	size  int
}

// NewTemplate makes a template of a fixture body (a JSON object).
func NewTemplate(event, name string, body []byte) (Template, error) {
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		return Template{}, fmt.Errorf("fixture %s/%s: %w", event, name, err)
	}
	for _, k := range keyFields(event) {
		if s, ok := obj[k].(string); ok {
			obj[k] = marker + s
		}
	}
	obj[UniqueField] = marker
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return Template{}, err
	}
	quoted, _ := json.Marshal(marker)
	m := quoted[1 : len(quoted)-1] // the marker as it appears inside a JSON string
	t := Template{Event: event, Name: name, parts: bytes.Split(bytes.TrimSpace(buf.Bytes()), m)}
	for _, p := range t.parts {
		t.size += len(p)
	}
	return t, nil
}

// Append appends the body for request n of run to dst: every hole filled
// with "r{run}-{n}-".
func (t Template) Append(dst []byte, run string, n uint64) []byte {
	for i, p := range t.parts {
		if i > 0 {
			dst = append(dst, 'r')
			dst = append(dst, run...)
			dst = append(dst, '-')
			dst = strconv.AppendUint(dst, n, 10)
			dst = append(dst, '-')
		}
		dst = append(dst, p...)
	}
	return dst
}

// Size is the template's length without tokens.
func (t Template) Size() int { return t.size }

// LoadFixtures reads dir/<EVENT>/<case>.json for every event accept
// returns true for (nil: all), sorted by event and case.
func LoadFixtures(dir string, accept func(event string) bool) ([]Template, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []Template
	for _, p := range paths {
		event := filepath.Base(filepath.Dir(p))
		if accept != nil && !accept(event) {
			continue
		}
		body, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		t, err := NewTemplate(event, trimExt(filepath.Base(p)), body)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no fixtures under %s", dir)
	}
	return out, nil
}

func trimExt(name string) string { return name[:len(name)-len(filepath.Ext(name))] }
