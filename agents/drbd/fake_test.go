package drbd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// fake is a DRBD host for the decision logic: /proc/drbd as a file, and a
// scripted drbdadm/drbdsetup/crm_attribute that record their calls.
type fake struct {
	t       *testing.T
	dir     string
	mu      sync.Mutex
	calls   []string
	events2 string         // what drbdsetup events2 prints
	fail    map[string]int // drbdadm subcommand -> exit code
	msg     map[string]string
	onAdm   func(sub string) // state changes a successful drbdadm makes
	onSetup func(args []string)
	dump    string
	attrs   map[string]string
	noAdm   bool
}

func newFake(t *testing.T) *fake {
	f := &fake{t: t, dir: t.TempDir(), fail: map[string]int{}, msg: map[string]string{}, attrs: map[string]string{},
		dump: "resource r0 {\n net { protocol C; }\n}\n"}
	f.setProc("version: 8.4.11 (api:1/proto:86-101)\n")
	return f
}

func (f *fake) setProc(s string) {
	p := filepath.Join(f.dir, "drbd")
	if s == "" {
		_ = os.Remove(p)
		return
	}
	require.NoError(f.t, os.WriteFile(p, []byte(s), 0o644))
}

func (f *fake) system() *system {
	return &system{
		procDRBD:    filepath.Join(f.dir, "drbd"),
		sysModule:   filepath.Join(f.dir, "sys-module-drbd"),
		modulesDir:  filepath.Join(f.dir, "modules"),
		drbdsetup84: filepath.Join(f.dir, "drbdsetup-84"),
		run:         f.run,
		lookPath: func(name string) (string, error) {
			if f.noAdm && name == "drbdadm" {
				return "", fmt.Errorf("not found")
			}
			return "/usr/sbin/" + name, nil
		},
		peerPrimaryGrace: 0,
		pause:            50 * time.Millisecond,
		attributes: func(r *ocf.Request) *ocf.Attributes {
			return &ocf.Attributes{Command: "crm_attribute", Node: r.Meta.OnNode, Run: f.crmAttribute}
		},
	}
}

func (f *fake) crmAttribute(ctx context.Context, name string, args ...string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name+" "+strings.Join(args, " "))
	var attr, val string
	del := false
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--name":
			attr = args[i+1]
		case "--update":
			val = args[i+1]
		case "--delete":
			del = true
		}
	}
	if del {
		delete(f.attrs, attr)
	} else {
		f.attrs[attr] = val
	}
	return nil, nil
}

func (f *fake) run(ctx context.Context, env []string, name string, args ...string) runResult {
	f.mu.Lock()
	f.calls = append(f.calls, name+" "+strings.Join(args, " "))
	f.mu.Unlock()
	switch name {
	case "drbdsetup":
		if args[0] == "events2" {
			return runResult{out: []byte(f.events2)}
		}
		if f.onSetup != nil {
			f.onSetup(args)
		}
		return runResult{}
	case "drbdadm":
		sub := args[2]
		if sub == "-v" {
			sub = args[3]
		}
		if code := f.fail[sub]; code != 0 {
			return runResult{out: []byte(f.msg[sub] + "\n"), code: code, err: fmt.Errorf("exit status %d", code)}
		}
		if sub == "dump" {
			return runResult{out: []byte(f.dump)}
		}
		if f.onAdm != nil {
			f.onAdm(sub)
		}
		return runResult{}
	}
	return runResult{code: -1, err: fmt.Errorf("unexpected %s", name)}
}

func (f *fake) count(prefix string) int {
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// state renders events2 output for a two-node resource.
func state(role, peerRole, conn, disk, pdisk string) string {
	return fmt.Sprintf(`exists resource name:r0 role:%s suspended:no
exists connection name:r0 peer-node-id:1 conn-name:peer connection:%s role:%s
exists device name:r0 volume:0 minor:0 disk:%s
exists peer-device name:r0 peer-node-id:1 conn-name:peer volume:0 replication:Established peer-disk:%s resync-suspended:no
exists -
`, role, conn, peerRole, disk, pdisk)
}

const stopped = "exists -\n"

var goodMeta = map[string]string{"clone_max": "2", "clone_node_max": "1", "promoted_max": "1",
	"promoted_node_max": "1", "notify": "true", "on_node": "guest-a", "timeout": "20000"}

func call(t *testing.T, f *fake, action string, params, meta map[string]string) (ocf.Status, string) {
	t.Helper()
	a := agentOn(f.system())
	a.MetadataXML = []byte("<x/>")
	env := []string{"OCF_RESOURCE_INSTANCE=p_drbd:0", "OCF_RA_VERSION_MAJOR=1", "HA_RSCTMP=" + f.dir}
	p := map[string]string{"drbd_resource": "r0"}
	for k, v := range params {
		p[k] = v
	}
	for k, v := range p {
		env = append(env, "OCF_RESKEY_"+k+"="+v)
	}
	m := goodMeta
	if meta != nil {
		m = meta
	}
	for k, v := range m {
		env = append(env, "OCF_RESKEY_CRM_meta_"+k+"="+v)
	}
	var stderr strings.Builder
	code := ocf.Exec(a, ocf.Invocation{Args: []string{"drbd", action}, Env: env, Stdout: &strings.Builder{}, Stderr: &stderr})
	return code, stderr.String()
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}
