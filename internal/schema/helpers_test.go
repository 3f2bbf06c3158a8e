package schema_test

import (
	"encoding/json"
	"testing"

	"github.com/gokentik/kentik/internal/schema"
)

func cloneFile(t *testing.T, f schema.File) schema.File {
	t.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var out schema.File
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func named(list any, name string) map[string]any {
	for _, e := range list.([]any) {
		if m := e.(map[string]any); m["name"] == name {
			return m
		}
	}
	panic("test fixture: no " + name)
}

func message(f schema.File, name string) map[string]any { return named(f["messageType"], name) }

func field(f schema.File, msg, name string) map[string]any {
	return named(message(f, msg)["field"], name)
}

func method(f schema.File, name string) map[string]any {
	return named(named(f["service"], "InterfaceService")["method"], name)
}

func enumValue(f schema.File, enum, value string) map[string]any {
	return named(named(f["enumType"], enum)["value"], value)
}
