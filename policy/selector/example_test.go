package selector_test

import (
	"fmt"

	"github.com/palisadenet/palisade/policy/selector"
)

func Example() {
	s, err := selector.Parse(`role=='db' && env in{"stage","prod","stage"} && !has(canary)`)
	if err != nil {
		panic(err)
	}
	fmt.Println(s)
	fmt.Println(s.LabelKeys())
	fmt.Println(s.Evaluate(map[string]string{"role": "db", "env": "prod"}))
	fmt.Println(s.Evaluate(map[string]string{"role": "db", "env": "prod", "canary": "true"}))
	// Output:
	// role == "db" && env in {"prod", "stage"} && !has(canary)
	// [canary env role]
	// true
	// false
}

func ExampleParse_error() {
	_, err := selector.Parse(`app == "web" && (tier == "db"`)
	fmt.Println(err)
	// Output:
	// invalid selector "app == \"web\" && (tier == \"db\"": at byte 29: expected ")" to close "(" at byte 16, found end of input
}

func ExampleCache() {
	cache := selector.NewCache(1024)
	a, _ := cache.Get(`has(app)`)
	b, _ := cache.Get(`has(app)`)
	fmt.Println(a == b, len(a.ID()) == selector.IDLen)
	// Output:
	// true true
}
