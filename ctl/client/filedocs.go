package client

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// encodeYAML renders an object as one YAML document (keys sorted, as kubectl does).
func encodeYAML(obj runtime.Object) ([]byte, error) {
	js, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", KeyOf(obj), err)
	}
	out, err := yaml.JSONToYAML(js)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", KeyOf(obj), err)
	}
	return out, nil
}

// writeAtomic writes data to a hidden temporary file beside path, syncs it and renames
// it over path, so readers see the old or the new content, never a part.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	cleanup := func() { _ = os.Remove(tmp.Name()) }
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		cleanup()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		cleanup()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		cleanup()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		cleanup()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		cleanup()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// rewrite replaces the document (or List item) at where with obj, or removes it when
// obj is nil; the file's other documents keep their bytes. A file left without
// documents is removed.
func (f *File) rewrite(where located, obj runtime.Object) error {
	data, err := os.ReadFile(where.path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", where.path, err)
	}
	isJSON := startsWithBrace(data)
	docs, err := splitDocs(data, isJSON)
	if err != nil {
		return fmt.Errorf("rewriting %s: %w", where.path, err)
	}
	slot := -1 // index in docs of the non-empty document where.loc.Document
	count := 0
	for i, d := range docs {
		if !emptyDoc(d) {
			count++
			if count == where.loc.Document {
				slot = i
			}
		}
	}
	if slot < 0 {
		return fmt.Errorf("rewriting %s: document %d not found (the file changed?)", where.path, where.loc.Document)
	}
	var replacement []byte
	if where.loc.Item > 0 {
		replacement, err = rewriteListItem(docs[slot], where.loc.Item, obj, isJSON)
	} else if obj != nil {
		replacement, err = encodeDoc(obj, isJSON)
		if err == nil && !isJSON {
			replacement = append(leadingComments(docs[slot]), replacement...)
		}
	}
	if err != nil {
		return fmt.Errorf("rewriting %s: %w", where.path, err)
	}
	docs[slot] = replacement
	var kept [][]byte
	nonEmpty := 0
	for _, d := range docs {
		if len(bytes.TrimSpace(d)) == 0 {
			continue
		}
		kept = append(kept, d)
		if !emptyDoc(d) {
			nonEmpty++
		}
	}
	if nonEmpty == 0 {
		if err := os.Remove(where.path); err != nil {
			return fmt.Errorf("removing %s: %w", where.path, err)
		}
		return nil
	}
	out := joinDocs(kept, isJSON)
	if bytes.Equal(out, data) {
		return nil // unchanged: no write, so watchers see no event
	}
	return writeAtomic(where.path, out)
}

func startsWithBrace(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// splitDocs cuts a file the way package resource does: JSON values, or YAML documents.
func splitDocs(data []byte, isJSON bool) ([][]byte, error) {
	var docs [][]byte
	if isJSON {
		dec := json.NewDecoder(bytes.NewReader(data))
		for {
			var raw json.RawMessage
			err := dec.Decode(&raw)
			if err == io.EOF {
				return docs, nil
			}
			if err != nil {
				return nil, err
			}
			docs = append(docs, raw)
		}
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		d, err := r.Read()
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, append([]byte(nil), d...))
	}
}

// emptyDoc mirrors package resource: a document that decodes to null is not counted.
func emptyDoc(doc []byte) bool {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return false
	}
	t := bytes.TrimSpace(js)
	return len(t) == 0 || string(t) == "null"
}

func encodeDoc(obj runtime.Object, isJSON bool) ([]byte, error) {
	if isJSON {
		js, err := json.MarshalIndent(obj, "", "  ")
		if err != nil {
			return nil, err
		}
		return append(js, '\n'), nil
	}
	return encodeYAML(obj)
}

// leadingComments returns the comment and blank lines a YAML document starts with.
func leadingComments(doc []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(doc, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] != '#' {
			break
		}
		out = append(out, line...)
	}
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return out
}

// rewriteListItem replaces or removes item (1-based) of a `kind: List` document.
func rewriteListItem(doc []byte, item int, obj runtime.Object, isJSON bool) ([]byte, error) {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, err
	}
	var list map[string]any
	if err := json.Unmarshal(js, &list); err != nil {
		return nil, err
	}
	items, _ := list["items"].([]any)
	if item > len(items) {
		return nil, errors.New("list item not found (the file changed?)")
	}
	if obj == nil {
		items = append(items[:item-1], items[item:]...)
	} else {
		ojs, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(ojs, &m); err != nil {
			return nil, err
		}
		items[item-1] = m
	}
	if len(items) == 0 {
		return nil, nil
	}
	list["items"] = items
	out, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, err
	}
	if isJSON {
		return append(out, '\n'), nil
	}
	return yaml.JSONToYAML(out)
}

func joinDocs(docs [][]byte, isJSON bool) []byte {
	var b bytes.Buffer
	for i, d := range docs {
		if i > 0 && !isJSON {
			b.WriteString("---\n")
		}
		b.Write(d)
		if len(d) > 0 && d[len(d)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}
