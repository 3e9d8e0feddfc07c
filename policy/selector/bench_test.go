package selector

import (
	"strconv"
	"testing"
)

const bench5Terms = `app == "web" && tier != "db" && env in {"prod", "stage", "qa"} && has(version) && !has(canary)`

var bench10Labels = map[string]string{
	"app": "web", "tier": "frontend", "env": "prod", "version": "v1", "team": "payments",
	"projectcalico.org/namespace": "shop", "projectcalico.org/orchestrator": "k8s",
	"pcns.projectcalico.org/name": "shop", "zone": "eu-1", "release": "stable",
}

var sink bool

// BenchmarkEvaluate5Terms: a 5-term selector that matches, so every term runs.
func BenchmarkEvaluate5Terms(b *testing.B) {
	s := MustParse(bench5Terms)
	if !s.Evaluate(bench10Labels) {
		b.Fatal("benchmark selector must match so every term is evaluated")
	}
	b.ReportAllocs()
	for b.Loop() {
		sink = s.Evaluate(bench10Labels)
	}
}

// BenchmarkParse5Terms parses a different (never cached) selector each time.
func BenchmarkParse5Terms(b *testing.B) {
	exprs := make([]string, 1024)
	for i := range exprs {
		exprs[i] = `app == "web` + strconv.Itoa(i) + `" && tier != "db" && env in {"prod", "stage", "qa"} && has(version) && !has(canary)`
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := Parse(exprs[i%len(exprs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkCacheGetHit(b *testing.B) {
	c := NewCache(0)
	if _, err := c.Get(bench5Terms); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Get(bench5Terms); err != nil {
			b.Fatal(err)
		}
	}
}
