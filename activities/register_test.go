package activities_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/mobayilo/mobayilo/activities"
)

// Every Activity* name in workflows/api.go is registered, with a method of
// Activities, and nothing else is: a name added without its method, or a
// method without a name, fails here rather than against a Temporal server.
func TestEveryActivityNameIsRegistered(t *testing.T) {
	names := activityNamesIn(t, "../workflows/api.go")
	a := &activities.Activities{}
	named := a.Named()
	var registered []string
	for name, fn := range named {
		registered = append(registered, name)
		if reflect.ValueOf(fn).Kind() != reflect.Func {
			t.Errorf("%s is registered with a %T", name, fn)
		}
	}
	sort.Strings(registered)
	if !reflect.DeepEqual(names, registered) {
		t.Errorf("workflows/api.go names %v\nregistered %v", names, registered)
	}
	// Every exported method is an activity (Named and Register aside).
	typ := reflect.TypeOf(a)
	for i := 0; i < typ.NumMethod(); i++ {
		m := typ.Method(i).Name
		if m == "Named" || m == "Register" {
			continue
		}
		if _, ok := named[m]; !ok {
			t.Errorf("method %s is not registered under its name", m)
		}
	}
}

// activityNamesIn lists the values of the Activity* string constants of a
// Go file, sorted.
func activityNamesIn(t *testing.T, path string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, id := range vs.Names {
			if !strings.HasPrefix(id.Name, "Activity") || i >= len(vs.Values) {
				continue
			}
			if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				v, _ := strconv.Unquote(lit.Value)
				names = append(names, v)
			}
		}
		return true
	})
	sort.Strings(names)
	if len(names) == 0 {
		t.Fatalf("no Activity* constants in %s", path)
	}
	return names
}
