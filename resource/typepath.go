package resource

import (
	"encoding/json"
	"strconv"
	"strings"
)

// indexedPath turns the dotted path of a JSON type error ("spec.ingress.ports.port",
// which names fields but not list positions) into the full path of the first value
// of JSON type jsonType found along it ("spec.ingress[0].ports[1].port"). It returns
// the dotted path unchanged when it cannot find one.
func indexedPath(js []byte, dotted, jsonType string) string {
	kind := strings.Fields(jsonType)
	if len(kind) == 0 {
		return dotted
	}
	var doc any
	if err := json.Unmarshal(js, &doc); err != nil {
		return dotted
	}
	if found, ok := findTyped(doc, strings.Split(dotted, "."), kind[0]); ok {
		return found
	}
	return dotted
}

// findTyped follows fields through v, trying every list element, and returns the
// path to the first value of JSON type want (or to the list holding it).
func findTyped(v any, fields []string, want string) (string, bool) {
	if list, ok := v.([]any); ok {
		for i, item := range list {
			if rest, ok := findTyped(item, fields, want); ok {
				return "[" + strconv.Itoa(i) + "]" + rest, true
			}
		}
		return "", len(fields) == 0 && want == "array"
	}
	if len(fields) == 0 {
		return "", jsonTypeOf(v) == want
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	child, ok := obj[fields[0]]
	if !ok {
		return "", false
	}
	rest, ok := findTyped(child, fields[1:], want)
	if !ok {
		return "", false
	}
	prefix := fields[0]
	return "." + prefix + rest, true
}

func jsonTypeOf(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "null"
}
