package harness

import (
	"fmt"
	"io"
	"os"
	"testing"
)

// ScriptTB lets a program outside go test (the bench, plcluster) use
// the harness's testing.TB functions: a fatal error or a skip panics and
// is recovered by WithScriptTB, cleanups run at its end. Only the
// methods below may be called.
type ScriptTB struct {
	testing.TB
	log      io.Writer
	dir      string
	cleanups []func()
	failed   bool
}

type scriptFatal string

func (t *ScriptTB) Helper()                           {}
func (t *ScriptTB) Name() string                      { return "script" }
func (t *ScriptTB) Failed() bool                      { return t.failed }
func (t *ScriptTB) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }
func (t *ScriptTB) Logf(format string, args ...any)   { fmt.Fprintf(t.log, "    "+format+"\n", args...) }
func (t *ScriptTB) Errorf(format string, args ...any) { t.failed = true; t.Logf(format, args...) }
func (t *ScriptTB) Fatalf(format string, args ...any) {
	t.failed = true
	panic(scriptFatal(fmt.Sprintf(format, args...)))
}
func (t *ScriptTB) Fatal(args ...any)                { t.failed = true; panic(scriptFatal(fmt.Sprint(args...))) }
func (t *ScriptTB) Skipf(format string, args ...any) { t.Fatalf("skipped: "+format, args...) }
func (t *ScriptTB) TempDir() string {
	d, err := os.MkdirTemp(t.dir, "tb-")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// WithScriptTB runs fn with a ScriptTB logging to log and making its
// temporary dirs under dir: a fatal error ends fn with an error, and the
// cleanups fn registered run at the end (last first).
func WithScriptTB(name string, log io.Writer, dir string, fn func(t *ScriptTB) error) (err error) {
	t := &ScriptTB{log: log, dir: dir}
	defer func() {
		p := recover()
		for i := len(t.cleanups) - 1; i >= 0; i-- {
			t.cleanups[i]()
		}
		if p != nil {
			f, ok := p.(scriptFatal)
			if !ok {
				panic(p)
			}
			err = fmt.Errorf("%s: %s", name, string(f))
		}
	}()
	return fn(t)
}
