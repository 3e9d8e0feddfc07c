package ctl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/jsonpath"
	"sigs.k8s.io/yaml"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/ctl/client"
)

// outputFormat is a parsed -o value.
type outputFormat struct {
	kind    string // "table", "wide", "yaml", "json", "name", "custom-columns"
	columns []customColumn
}

type customColumn struct {
	header string
	path   *jsonpath.JSONPath
}

// parseOutput reads -o: yaml, json, wide, name, custom-columns=HEADER:.path,...
func parseOutput(s string) (outputFormat, error) {
	switch s {
	case "", "table", "ps":
		return outputFormat{kind: "table"}, nil
	case "wide", "yaml", "json", "name":
		return outputFormat{kind: s}, nil
	}
	spec, ok := strings.CutPrefix(s, "custom-columns=")
	if !ok || spec == "" {
		return outputFormat{}, fmt.Errorf("-o %q: want yaml, json, wide, name or custom-columns=HEADER:.json.path[,HEADER:.json.path]", s)
	}
	var cols []customColumn
	for _, part := range strings.Split(spec, ",") {
		header, expr, ok := strings.Cut(part, ":")
		if !ok || header == "" || expr == "" {
			return outputFormat{}, fmt.Errorf("-o custom-columns: %q: want HEADER:.json.path", part)
		}
		jp := jsonpath.New(header).AllowMissingKeys(true)
		if !strings.HasPrefix(expr, "{") {
			expr = "{" + expr + "}"
		}
		if err := jp.Parse(expr); err != nil {
			return outputFormat{}, fmt.Errorf("-o custom-columns: column %s: %w", header, err)
		}
		cols = append(cols, customColumn{header: header, path: jp})
	}
	return outputFormat{kind: "custom-columns", columns: cols}, nil
}

// printer writes the result of a get.
type printer struct {
	format        outputFormat
	allNamespaces bool
	// single prints one object as itself rather than in a List (a get by one name).
	single bool
}

func (p printer) print(w io.Writer, objs []runtime.Object) error {
	switch p.format.kind {
	case "yaml", "json":
		return p.printStructured(w, objs)
	case "name":
		for _, o := range objs {
			k, err := client.KindOf(o)
			if err != nil {
				return err
			}
			m, _ := meta.Accessor(o)
			fmt.Fprintf(w, "%s.%s/%s\n", k.Singular, v3.GroupName, m.GetName())
		}
		return nil
	case "custom-columns":
		return p.printCustom(w, objs)
	}
	return p.printTable(w, objs)
}

// printStructured prints YAML or JSON: the object itself when single, otherwise a
// `kind: List` that `palisadectl apply -f` and `kubectl apply -f` both read back.
func (p printer) printStructured(w io.Writer, objs []runtime.Object) error {
	var v any
	if p.single && len(objs) == 1 {
		v = objs[0]
	} else {
		items := make([]any, len(objs))
		for i, o := range objs {
			items[i] = o
		}
		v = map[string]any{"apiVersion": "v1", "kind": "List", "items": items, "metadata": map[string]any{}}
	}
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding output: %w", err)
	}
	if p.format.kind == "json" {
		_, err = w.Write(append(js, '\n'))
		return err
	}
	out, err := yaml.JSONToYAML(js)
	if err != nil {
		return fmt.Errorf("encoding output: %w", err)
	}
	_, err = w.Write(out)
	return err
}

// printTable prints calicoctl's columns, grouping objects by kind in the order given.
func (p printer) printTable(w io.Writer, objs []runtime.Object) error {
	var groups [][]runtime.Object
	index := map[string]int{}
	for _, o := range objs {
		k := o.GetObjectKind().GroupVersionKind().Kind
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], o)
	}
	for gi, g := range groups {
		if gi > 0 {
			fmt.Fprintln(w)
		}
		if err := p.printKindTable(w, g); err != nil {
			return err
		}
	}
	return nil
}

// printHeader prints the header of sample's kind table, for an empty listing.
func (p printer) printHeader(w io.Writer, sample runtime.Object) error {
	kind, err := client.KindOf(sample)
	if err != nil {
		return err
	}
	return p.writeKindTable(w, kind, nil)
}

func (p printer) printKindTable(w io.Writer, objs []runtime.Object) error {
	kind, err := client.KindOf(objs[0])
	if err != nil {
		return err
	}
	return p.writeKindTable(w, kind, objs)
}

func (p printer) writeKindTable(w io.Writer, kind *client.Kind, objs []runtime.Object) error {
	cols := tableColumns[kind.Kind].normal
	if p.format.kind == "wide" {
		cols = tableColumns[kind.Kind].wide
	}
	withNS := kind.Namespaced && p.allNamespaces
	tw := newTable(w)
	var header []string
	if withNS {
		header = append(header, "NAMESPACE")
	}
	header = append(header, "NAME")
	for _, c := range cols {
		header = append(header, c.header)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, o := range objs {
		m, _ := meta.Accessor(o)
		var row []string
		if withNS {
			row = append(row, m.GetNamespace())
		}
		row = append(row, m.GetName())
		for _, c := range cols {
			row = append(row, c.value(o))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

func (p printer) printCustom(w io.Writer, objs []runtime.Object) error {
	tw := newTable(w)
	headers := make([]string, len(p.format.columns))
	for i, c := range p.format.columns {
		headers[i] = c.header
	}
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	for _, o := range objs {
		js, err := json.Marshal(o)
		if err != nil {
			return err
		}
		var data any
		if err := json.Unmarshal(js, &data); err != nil {
			return err
		}
		row := make([]string, len(p.format.columns))
		for i, c := range p.format.columns {
			var b bytes.Buffer
			if err := c.path.Execute(&b, data); err != nil {
				return fmt.Errorf("-o custom-columns: column %s: %w", c.header, err)
			}
			row[i] = b.String()
			if row[i] == "" {
				row[i] = "<none>"
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// table aligns tab-separated cells with three spaces between columns (calicoctl's
// layout) and trims the padding an empty last cell would leave.
type table struct {
	out io.Writer
	buf bytes.Buffer
	tw  *tabwriter.Writer
}

func newTable(w io.Writer) *table {
	t := &table{out: w}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 8, 3, ' ', 0)
	return t
}

func (t *table) Write(p []byte) (int, error) { return t.tw.Write(p) }

// Flush writes the aligned table.
func (t *table) Flush() error {
	if err := t.tw.Flush(); err != nil {
		return err
	}
	for _, line := range strings.SplitAfter(t.buf.String(), "\n") {
		if line == "" {
			continue
		}
		if _, err := io.WriteString(t.out, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}
