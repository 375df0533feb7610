package bridge_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/dtbridge/dtbridge/pkg/doubletick"
)

// TestEveryFixtureOverHTTP: every DoubleTick fixture, POSTed over a real
// socket to its event's URL, is stored with its event's type and subject, and
// its stored data validates against the JSON Schema the bridge serves at
// /v1/schemas/{type}. POSTed again to the inferred route it is either the
// same event (a duplicate of the stored one) or, for events that are never
// inferred, stored in quarantine — never another type.
func TestEveryFixtureOverHTTP(t *testing.T) {
	h := start(t, nil, nil)
	table := doubletick.Default()
	paths, err := filepath.Glob(filepath.Join("..", "..", "testdata", "fixtures", "*", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	compiler := jsonschema.NewCompiler()
	compiled := map[string]*jsonschema.Schema{}
	schemaFor := func(t *testing.T, spec *doubletick.EventSpec) *jsonschema.Schema {
		if s, ok := compiled[spec.SchemaName()]; ok {
			return s
		}
		r := h.get("/v1/schemas/" + spec.SchemaName())
		if r.status != 200 {
			t.Fatalf("GET /v1/schemas/%s: %d", spec.SchemaName(), r.status)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		url := "urn:dtbridge:schema:" + spec.SchemaName()
		if err := compiler.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
		s, err := compiler.Compile(url)
		if err != nil {
			t.Fatal(err)
		}
		compiled[spec.SchemaName()] = s
		return s
	}
	for _, path := range paths {
		event := filepath.Base(filepath.Dir(path))
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(event+"/"+name, func(t *testing.T) {
			spec, err := table.Lookup(event)
			if err != nil {
				t.Fatal(err)
			}
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r := h.post("/v1/webhooks/doubletick/"+event, "application/json", body)
			if r.status != 202 || r.ack.Type != spec.CEType() || !strings.HasSuffix(r.ack.Subject, "."+spec.Type) {
				t.Fatalf("explicit route: %d %+v, want 202 %s", r.status, r.ack, spec.CEType())
			}
			m := h.stored(r.ack.Seq)
			if m.Subject != r.ack.Subject {
				t.Errorf("stored on %s, ack says %s", m.Subject, r.ack.Subject)
			}
			var ev struct {
				Type    string          `json:"type"`
				Channel string          `json:"channel"`
				Data    json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				t.Fatal(err)
			}
			if want := "doubletick." + ev.Channel + "." + spec.Type; m.Subject != want {
				t.Errorf("subject %s, want %s", m.Subject, want)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(ev.Data))
			if err != nil {
				t.Fatal(err)
			}
			if err := schemaFor(t, spec).Validate(inst); err != nil {
				t.Errorf("stored data does not match the served schema: %v", err)
			}

			inferred := h.post("/v1/webhooks/doubletick", "application/json", body)
			if spec.Evidence == nil && len(spec.EventValues) == 0 {
				if inferred.status != 202 || inferred.ack.Subject != "doubletick.quarantine.unclassified" {
					t.Errorf("inferred route: %d %+v, want 202 in quarantine", inferred.status, inferred.ack)
				}
				return
			}
			if inferred.status != 202 || !inferred.ack.Duplicate || inferred.ack.Seq != r.ack.Seq || inferred.ack.Type != r.ack.Type {
				t.Errorf("inferred route: %d %+v, want a duplicate of seq %d", inferred.status, inferred.ack, r.ack.Seq)
			}
		})
	}
}
