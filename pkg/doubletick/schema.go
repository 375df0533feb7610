package doubletick

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

// schemaFS holds one JSON Schema (draft 2020-12) per event type and version,
// named {SchemaName}.json.
//
//go:embed schemas/*.json
var schemaFS embed.FS

// Schema returns the JSON Schema of the data of the event type name, given as
// a schema name (doubletick.conversation.closed.v1) or CloudEvents type.
func (t *Table) Schema(name string) ([]byte, bool) {
	s, ok := t.BySchema(name)
	if !ok {
		return nil, false
	}
	b, err := schemaFS.ReadFile("schemas/" + s.SchemaName() + ".json")
	return b, err == nil
}

// SchemaNames lists the schema files embedded in the binary, sorted.
func SchemaNames() []string {
	entries, _ := fs.ReadDir(schemaFS, "schemas")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	sort.Strings(names)
	return names
}
