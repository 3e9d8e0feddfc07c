package resource

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Decode decodes every document in data; name is used in locations and errors (usually
// the file name). It returns the objects that decoded cleanly and all errors joined.
func Decode(name string, data []byte) ([]Object, error) {
	docs, splitErr := splitDocuments(data)
	var objs []Object
	var errs []error
	index := 0
	for _, doc := range docs {
		js, err := toJSON(doc)
		if err == nil && isNull(js) {
			continue // empty and comment-only documents are not counted
		}
		index++
		loc := Location{File: name, Document: index}
		if err != nil {
			errs = append(errs, &Error{Source: loc, Err: err})
			continue
		}
		got, err := decodeDocument(loc, js)
		objs = append(objs, got...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if splitErr != nil {
		errs = append(errs, &Error{Source: Location{File: name, Document: index + 1}, Err: splitErr})
	}
	return objs, errors.Join(errs...)
}

// splitDocuments cuts data into YAML documents, or into JSON values when data starts
// with '{'. It returns the documents read before any error.
func splitDocuments(data []byte) ([][]byte, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return splitJSON(trimmed)
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := reader.Read()
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return docs, fmt.Errorf("splitting YAML documents: %w", err)
		}
		docs = append(docs, doc)
	}
}

func splitJSON(data []byte) ([][]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var docs [][]byte
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return docs, fmt.Errorf("invalid JSON: %w", err)
		}
		docs = append(docs, raw)
	}
}

// header is the part of a document read before its kind is known.
type header struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	Items      []json.RawMessage
	isList     bool
}

// decodeDocument decodes one non-empty document, already converted to JSON, at loc.
func decodeDocument(loc Location, js []byte) ([]Object, error) {
	h, err := readHeader(js)
	loc.APIVersion, loc.Kind, loc.Namespace, loc.Name = h.APIVersion, h.Kind, h.Namespace, h.Name
	if err != nil {
		return nil, &Error{Source: loc, Err: err}
	}
	if h.isList {
		return decodeList(loc, h.Items)
	}
	obj, err := decodeObject(loc, js)
	if err != nil {
		return nil, err
	}
	return []Object{obj}, nil
}

func decodeList(loc Location, items []json.RawMessage) ([]Object, error) {
	var objs []Object
	var errs []error
	for i, item := range items {
		itemLoc := Location{File: loc.File, Document: loc.Document, Item: i + 1}
		h, err := readHeader(item)
		itemLoc.APIVersion, itemLoc.Kind, itemLoc.Namespace, itemLoc.Name = h.APIVersion, h.Kind, h.Namespace, h.Name
		if err == nil && h.isList {
			err = errors.New("a List inside a List is not supported")
		}
		if err != nil {
			errs = append(errs, &Error{Source: itemLoc, Err: err})
			continue
		}
		obj, err := decodeObject(itemLoc, item)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, obj)
	}
	return objs, errors.Join(errs...)
}

// toJSON converts a YAML (or JSON) document to JSON, rejecting duplicate keys. The YAML
// library is third-party code fed arbitrary bytes, so a panic in it becomes an error.
func toJSON(doc []byte) (js []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			js, err = nil, fmt.Errorf("invalid YAML: parser failed: %v", r)
		}
	}()
	js, err = yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	return js, nil
}

func isNull(js []byte) bool {
	t := bytes.TrimSpace(js)
	return len(t) == 0 || string(t) == "null"
}

// readHeader reads apiVersion, kind and metadata leniently so that later errors can
// name the object, then checks that the document is an object with a type.
func readHeader(js []byte) (header, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err != nil {
		return header{}, errors.New("document is not an object (want a mapping with apiVersion and kind)")
	}
	var h header
	_ = json.Unmarshal(top["apiVersion"], &h.APIVersion)
	_ = json.Unmarshal(top["kind"], &h.Kind)
	var meta struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	}
	_ = json.Unmarshal(top["metadata"], &meta) // best effort: strict decoding reports bad metadata
	h.Name, h.Namespace = meta.Name, meta.Namespace
	switch {
	case h.Kind == "":
		return h, errors.New("kind: required")
	case h.APIVersion == "":
		return h, errors.New("apiVersion: required")
	}
	if h.Kind == "List" && h.APIVersion == "v1" {
		h.isList = true
		if raw, ok := top["items"]; ok && !isNull(raw) {
			if err := json.Unmarshal(raw, &h.Items); err != nil {
				return h, errors.New("items: must be a list of objects")
			}
		}
	}
	return h, nil
}

// decodeObject strictly decodes one object whose header was read into loc.
func decodeObject(loc Location, js []byte) (Object, error) {
	gv, err := schema.ParseGroupVersion(loc.APIVersion)
	if err != nil {
		return Object{}, &Error{Source: loc, Path: "apiVersion", Err: fmt.Errorf("invalid apiVersion %q", loc.APIVersion)}
	}
	info, ok := registry[gv.WithKind(loc.Kind)]
	if !ok {
		return Object{}, &Error{Source: loc, Path: "kind", Err: fmt.Errorf("unknown kind %q in apiVersion %q", loc.Kind, loc.APIVersion)}
	}
	obj := info.newObject()
	if errs := strictUnmarshal(js, obj); len(errs) > 0 {
		return Object{}, joinAt(loc, errs)
	}
	obj.GetObjectKind().SetGroupVersionKind(info.target)
	if err := checkMetadata(loc, obj, info.namespaced); err != nil {
		return Object{}, err
	}
	if info.validate != nil {
		if errs := info.validate(obj); len(errs) > 0 {
			return Object{}, joinAt(loc, errs)
		}
	}
	return Object{Source: loc, Obj: obj}, nil
}

func joinAt(loc Location, errs []fieldError) error {
	joined := make([]error, len(errs))
	for i, fe := range errs {
		joined[i] = &Error{Source: loc, Path: fe.Path, Err: fe.Err}
	}
	return errors.Join(joined...)
}

// strictUnmarshal decodes js into obj, case-sensitively, rejecting unknown and
// duplicate fields. Errors carry the field path when one is known.
func strictUnmarshal(js []byte, obj runtime.Object) []fieldError {
	strictErrs, err := sigsjson.UnmarshalStrict(js, obj)
	if err != nil {
		return []fieldError{describeDecodeError(js, obj, err)}
	}
	errs := make([]fieldError, 0, len(strictErrs))
	for _, se := range strictErrs {
		errs = append(errs, fieldErrorFromStrict(se))
	}
	return errs
}

func fieldErrorFromStrict(se error) fieldError {
	var fe sigsjson.FieldError
	if !errors.As(se, &fe) {
		return fieldError{Err: se}
	}
	msg := "unknown field"
	if strings.HasPrefix(se.Error(), "duplicate") {
		msg = "duplicate field"
	}
	return fieldError{Path: fe.FieldPath(), Err: errors.New(msg)}
}

// describeDecodeError turns a decoding failure into a fieldError with a path when the
// standard library can tell which field held the wrong type.
func describeDecodeError(js []byte, obj runtime.Object, err error) fieldError {
	if ok, off := sigsjson.SyntaxErrorOffset(err); ok {
		return fieldError{Err: fmt.Errorf("invalid JSON at offset %d: %w", off, err)}
	}
	fresh := obj.DeepCopyObject()
	var typeErr *json.UnmarshalTypeError
	if stdErr := json.Unmarshal(js, fresh); errors.As(stdErr, &typeErr) && typeErr.Field != "" {
		msg := fmt.Sprintf("cannot decode JSON %s into %s", typeErr.Value, typeErr.Type)
		if typeErr.Value == "bool" && typeErr.Type.Kind() == reflect.String {
			msg += ` (YAML reads unquoted y, n, yes, no, on and off as booleans, as kubectl does: quote the value)`
		}
		path := strings.TrimPrefix(indexedPath(js, typeErr.Field, typeErr.Value), ".")
		return fieldError{Path: path, Err: errors.New(msg)}
	}
	return fieldError{Err: fmt.Errorf("decoding: %w", err)}
}
