package dns

import (
	"strings"
	"testing"
)

func TestPatternsMatchWholeLabelsAndInsideOne(t *testing.T) {
	ps, err := CompilePatterns([]string{"*.svc.cluster.local", "API-*.Example.com.", "db", "a.*.c"})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"web.default.svc.cluster.local":  true,
		"web.default.svc.cluster.local.": true,
		"x.svc.cluster.local":            true,
		"svc.cluster.local":              false, // * is one label at least
		"WEB.SVC.CLUSTER.LOCAL":          true,
		"svc.cluster.local.evil.com":     false,
		"api-v1.example.com":             true,
		"api-.example.com":               true, // * within a label may match nothing
		"api.example.com":                false,
		"x.api-v1.example.com":           false,
		"db":                             true,
		"db.":                            true,
		"db.x":                           false,
		"a.b.c":                          true,
		"a.b.b.b.c":                      true,
		"a.c":                            false,
		"":                               false,
		".":                              false,
	} {
		if got := ps.Match(name); got != want {
			t.Errorf("%q: %v, want %v", name, got, want)
		}
	}
	all, _ := CompilePatterns([]string{"*"})
	if !all.Match("anything.at.all") || !all.Match("x") || all.Match("") {
		t.Error("* alone")
	}
}

func TestLabelGlobs(t *testing.T) {
	for _, c := range []struct {
		glob, label string
		want        bool
	}{
		{"a*b*c", "axxbyyc", true}, {"a*b*c", "abc", true}, {"a*b*c", "acb", false},
		{"*x", "xxxx", true}, {"x*", "x", true}, {"*", "", true}, {"a*", "b", false}, {"**a", "ba", true},
	} {
		if got := matchLabel(c.glob, c.label); got != c.want {
			t.Errorf("%q ~ %q: %v", c.glob, c.label, got)
		}
	}
}

// A hostile name of many labels against a pattern of many stars stays cheap (the dynamic
// programming match; a backtracking one would not finish).
func TestManyStarsAgainstManyLabels(t *testing.T) {
	ps, _ := CompilePatterns([]string{strings.Repeat("*.", 60) + "z"})
	name := strings.Repeat("a.", 126) + "y"
	if ps.Match(name) {
		t.Fatal("matched")
	}
	if !ps.Match(strings.Repeat("a.", 126) + "z") {
		t.Fatal("not matched")
	}
}

func TestBadPatterns(t *testing.T) {
	for _, p := range []string{"", ".", "a..b"} {
		if _, err := CompilePatterns([]string{p}); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
}
