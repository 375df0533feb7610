package doubletick

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated JSON Schemas under schemas/ and the README event table")

// TestSchemasGenerated: every row's embedded JSON Schema is exactly what the
// generator derives from the Go type its Normalize returns, so the schema,
// the normalizer and the table cannot drift apart. Regenerate with
// go test ./pkg/doubletick -update; never edit the files by hand.
func TestSchemasGenerated(t *testing.T) {
	tbl := Default()
	for i := range tbl.Specs() {
		s := &tbl.Specs()[i]
		want := generateSchema(s)
		path := filepath.Join("schemas", s.SchemaName()+".json")
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, ok := tbl.Schema(s.SchemaName())
		if !ok {
			t.Errorf("%s: no embedded schema %s (run go test ./pkg/doubletick -update)", s.Name, path)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %s is not what the generator makes from %T (run go test ./pkg/doubletick -update)", s.Name, path, s.Normalize(Payload{}, DefaultChannel).Data)
		}
	}
}

// generateSchema is the JSON Schema (draft 2020-12) of a row's data:
// channel, the members of the normalized type, and raw.
func generateSchema(s *EventSpec) []byte {
	data := reflect.TypeOf(s.Normalize(Payload{}, DefaultChannel).Data)
	props, required := structProps(data)
	channels := make([]string, 0, len(channelNames))
	for _, c := range []Channel{WhatsApp, Instagram, Generic, PSTN, Web} {
		channels = append(channels, string(c))
	}
	allProps := append(obj{{"channel", obj{
		{"description", "The messaging channel; also the second subject token."},
		{"enum", channels},
	}}}, props...)
	allProps = append(allProps, kv{"raw", obj{
		{"type", "object"},
		{"description", "The delivery exactly as received (a form body converted to a JSON object)."},
	}})
	doc := obj{
		{"$schema", "https://json-schema.org/draft/2020-12/schema"},
		{"$id", "urn:dtbridge:schema:" + s.SchemaName()},
		{"title", s.SchemaName()},
		{"description", "data of " + s.CEType() + ": DoubleTick's " + s.Name + " webhook, normalized. " + s.Summary},
		{"type", "object"},
		{"required", append(append([]string{"channel"}, required...), "raw")},
		{"properties", allProps},
		{"additionalProperties", false},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

var (
	timeType   = reflect.TypeOf(Time{})
	numberType = reflect.TypeOf(json.Number(""))
	rawType    = reflect.TypeOf(json.RawMessage(nil))
)

// typeSchema maps a Go type to a schema. Pointers are nullable; a
// json.RawMessage is any JSON value (passed through as sent).
func typeSchema(t reflect.Type) obj {
	switch t {
	case timeType:
		return obj{{"type", "string"}, {"format", "date-time"}}
	case numberType:
		return obj{{"type", "number"}}
	case rawType:
		return obj{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := typeSchema(t.Elem())
		for i := range s {
			if s[i].k == "type" {
				s[i].v = []string{s[i].v.(string), "null"}
			}
		}
		return s
	case reflect.String:
		return obj{{"type", "string"}}
	case reflect.Bool:
		return obj{{"type", "boolean"}}
	case reflect.Int, reflect.Int64:
		return obj{{"type", "integer"}}
	case reflect.Float64:
		return obj{{"type", "number"}}
	case reflect.Slice:
		return obj{{"type", "array"}, {"items", typeSchema(t.Elem())}}
	case reflect.Struct:
		props, required := structProps(t)
		s := obj{{"type", "object"}}
		if len(required) > 0 {
			s = append(s, kv{"required", required})
		}
		return append(s, kv{"properties", props}, kv{"additionalProperties", false})
	}
	panic("schema: unsupported type " + t.String())
}

// structProps lists a struct's JSON members in order (embedded structs
// flattened, as encoding/json does) and the required ones: all but omitempty.
func structProps(t reflect.Type) (props obj, required []string) {
	required = []string{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			p, r := structProps(f.Type)
			props = append(props, p...)
			required = append(required, r...)
			continue
		}
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		s := typeSchema(f.Type)
		if d := f.Tag.Get("desc"); d != "" {
			s = append(obj{{"description", d}}, s...)
		}
		props = append(props, kv{name, s})
		if !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	}
	return props, required
}

// obj is a JSON object that keeps its members in order.
type obj []kv

type kv struct {
	k string
	v any
}

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.k)
		v, err := json.Marshal(m.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// TestDataRoundTrip: the normalized types are also for consumers: the data
// of every fixture decodes into its row's Go type and encodes back to the
// same normalized fields.
func TestDataRoundTrip(t *testing.T) {
	tbl := Default()
	paths, _ := filepath.Glob("../../testdata/fixtures/*/*.json")
	for _, path := range paths {
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		n, err := tbl.Convert(filepath.Base(filepath.Dir(path)), body, Hints{})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		want, err := json.Marshal(n.Spec.Normalize(mustParse(t, body), n.Channel).Data)
		if err != nil {
			t.Fatal(err)
		}
		v := reflect.New(reflect.TypeOf(n.Spec.Normalize(Payload{}, DefaultChannel).Data))
		if err := json.Unmarshal(n.Data, v.Interface()); err != nil {
			t.Errorf("%s: data does not decode into %s: %v", path, v.Type().Elem(), err)
			continue
		}
		got, err := json.Marshal(v.Elem().Interface())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: round trip through %s changed the fields:\n got %s\nwant %s", path, v.Type().Elem(), got, want)
		}
	}
}

func mustParse(t *testing.T, body []byte) Payload {
	t.Helper()
	p, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
