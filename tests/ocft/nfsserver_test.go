//go:build system

package ocft_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/drbdlab"
	h "github.com/paceline-ha/paceline/tests/harness"
)

// ocft's nfsserver config, run against the stock agent
// (ocf:heartbeat:nfsserver) and paceline's, as TestOCFT runs the
// others. nfsd is not available on this machine, so both runs are in the
// DRBD guests of one pair boot, at once: the stock agent on guest-a,
// paceline's (the harness's build, Install) on guest-b, each guest
// prepared alike (nfsGuestEnv) and ocft run in it by guestScript. The
// config is strict: every case must pass for both, but for the
// differences listed in onPurpose, and both must return the same codes
// at every step ocft checks.
var nfsConfig = config{"nfsserver", "nfsserver", guestEnv}

// guestPaceline is paceline's side in the guests, where nfsGuestEnv
// links the build under test.
var guestPaceline = side{"paceline", "/usr/lib/ocf/resource.d/paceline"}

// nfsGuestEnv prepares a guest as a Debian node without systemd on
// which the stock agent works, the same for both sides ($1: paceline's
// binary under test). The config's cases all run with nfs_init_script
// empty: SETUP-AGENT sets INITSCRIPT (to /etc/init.d/nfsserver, where
// that exists) in a script of its own, which the cases' scripts do not
// see. SETUP-AGENT's "service nfs-kernel-server stop" runs the init
// script itself where systemd does not run, and its failure would not
// matter (it ends with "true").
//   - With nfs_init_script empty, the stock agent runs Debian's
//     /etc/init.d/nfs-kernel-server (the first of its defaults that
//     exists) and starts rpc.statd itself; paceline's, without systemd,
//     starts and stops the daemons itself (docs/nfsserver.md). The init
//     script starts nothing without an export in /etc/exports, and nfsd
//     only when rpcbind runs, which the stock agent does not start: the
//     export is of the guest's disk (the overlay root cannot be
//     exported), rpcbind is started by its own init script, as at boot.
//   - The init script stops nfsd with SIGINT; the nfsd threads of the
//     Debian 12 kernel the guests boot (6.1.0-57 when this was written)
//     ignore signals, so the stock agent's stop (rc 0) would leave nfsd
//     running without rpc.statd, and every case after the first stop
//     (case 1's preparation) would fail at the monitor of its own
//     preparation: rc 1, "NFS server is up, but the locking daemons are
//     down"; cases 2 to 9 did so. Where a quick check finds that nfsd
//     ignores the signal, /etc/default/nfs-kernel-server, which the
//     script sources, stops nfsd as systemd's nfs-server unit does
//     (rpc.nfsd 0) instead.
//   - ocf:paceline:nfsserver is the build under test.
//
// Everything is written to the guest's overlay, none of it to this
// machine.
const nfsGuestEnv = `set -e
mkfs.ext4 -q -F /dev/vda
mkdir -p /srv/nfs
mount /dev/vda /srv/nfs
echo '/srv/nfs 192.0.2.0/24(rw,sync,no_subtree_check,fsid=1)' >/etc/exports
mkdir -p /run/sendsigs.omit.d
/etc/init.d/rpcbind start
rpcinfo -p >/dev/null

mount -t nfsd nfsd /proc/fs/nfsd
rpc.nfsd 1
start-stop-daemon --stop --oknodo --quiet --name nfsd --user 0 --signal 2
for i in 1 2 3 4 5 6 7 8 9 10; do [ "$(cat /proc/fs/nfsd/threads)" = 0 ] && break; sleep 0.3; done
left=$(cat /proc/fs/nfsd/threads)
rpc.nfsd 0
umount /proc/fs/nfsd
if [ "$left" != 0 ]; then
	cat >>/etc/default/nfs-kernel-server <<'EOF'
# tests/ocft: this kernel's nfsd threads ignore the signal below.
start-stop-daemon() {
	case " $* " in
	*" --stop "*" --name nfsd "*) [ ! -e /proc/fs/nfsd/threads ] || /usr/sbin/rpc.nfsd 0 ;;
	*) command start-stop-daemon "$@" ;;
	esac
}
EOF
	echo "nfsd ignores SIGINT: the init script stops it with rpc.nfsd 0"
fi

mkdir -p /usr/lib/ocf/resource.d/paceline
ln -sfn "$1" /usr/lib/ocf/resource.d/paceline/nfsserver
`

// TestOCFTNFSServer runs ocft's nfsserver config against the stock agent
// (guest-a) and paceline's (guest-b) and compares them case by case.
func TestOCFTNFSServer(t *testing.T) {
	if !wanted(nfsConfig) {
		t.Skip("-run selects other configs")
	}
	for _, f := range []string{filepath.Join(ocftConfigs, nfsConfig.name), "/usr/sbin/ocft",
		"/usr/share/resource-agents/ocft/caselib", filepath.Join(stock.root, nfsConfig.agent),
		"/etc/init.d/nfs-kernel-server", "/etc/init.d/rpcbind", "/usr/sbin/rpc.nfsd", "/usr/sbin/rpcbind"} {
		_, err := os.Stat(f)
		h.Require(t, err == nil, "no %s (resource-agents, nfs-kernel-server, rpcbind: tests/install-deps.sh)", f)
	}
	text, err := readConfig(nfsConfig)
	if err != nil {
		t.Fatal(err)
	}
	wantCases := len(regexp.MustCompile(`(?m)^CASE "`).FindAllString(text, -1))
	bin := filepath.Join(h.Install(t), "paceline")
	p := drbdlab.StartPair(t, drbdlab.PairSpec{DiskMiB: 64, MemMiB: 384})
	guests := []*drbdlab.Guest{p.A, p.B}
	runs := []*run{{cfg: nfsConfig, side: stock}, {cfg: nfsConfig, side: guestPaceline}}

	var wg sync.WaitGroup
	start := time.Now()
	for i, r := range runs {
		rewritten, err := rewrite(nfsConfig, text, rewriteOpts{side: r.side})
		if err != nil {
			t.Fatalf("rewrite(%s, %s) = %v", nfsConfig.name, r.side.name, err)
		}
		g := guests[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
			defer cancel()
			out, rc, err := g.Exec(ctx, "set -- "+h.ShellQuote(bin)+"\n"+nfsGuestEnv)
			if err != nil || rc != 0 {
				r.err = fmt.Errorf("preparing %s: exit %d, %v\n%s", g.Name(), rc, err, out)
				return
			}
			if out = strings.TrimSpace(out); out != "" {
				t.Logf("%s: %s", g.Name(), out)
			}
			r.executeIn(ctx, g, rewritten)
		}()
	}
	wg.Wait()
	t.Logf("both ocft runs took %s; stock on %s, paceline on %s",
		time.Since(start).Round(time.Second), p.A.Name(), p.B.Name())
	for _, r := range runs {
		if r.err == nil && len(r.cases) != wantCases {
			t.Errorf("ocft made %d cases for %s, the config has %d", len(r.cases), r.side.name, wantCases)
		}
	}
	compare(t, nfsConfig, runs[0], runs[1])
	t.Logf("ocft: %s", summary(runs))
}

// TestOCFTNFSParse checks guestResults on output shaped like
// guestScript's (no guest needed): the case files, the timeline with a
// pass, a wrong code, a case ocft only marked for retest and one never
// run, each with the codes ocft checked; and the exit codes that are
// not a result.
func TestOCFTNFSParse(t *testing.T) {
	out := "0_nfsserver.sh\n1_nfsserver.retest\n2_nfsserver.retest\n3_exportfs.retest\n" + guestTimelineMark + "\n"
	for _, l := range []string{
		"Making 'nfsserver': ",
		"    - case 0: check base env",
		"    - case 1: normal stop",
		"    - case 2: double stop",
		"    - case 3: unimplemented command",
		"Starting '\x1b[33mnfsserver\x1b[0m' case 0 '\x1b[33mcheck base env\x1b[0m':",
		"Running agent: ./nfsserver start",
		"Checking return value: \x1b[32mOK\x1b[0m. The return value '\x1b[34mOCF_SUCCESS\x1b[0m' == '\x1b[34mOCF_SUCCESS\x1b[0m'",
		"Starting 'nfsserver' case 1 'normal stop':",
		"Running agent: ./nfsserver start",
		"AGENT nfsserver(ocft)[12]:\tERROR: NFS server is up, but the locking daemons are down",
		"Checking return value: OK. The return value 'OCF_SUCCESS' == 'OCF_SUCCESS'",
		"Running agent: ./nfsserver stop",
		"Checking return value: FAILED. The return value 'OCF_ERR_GENERIC' != 'OCF_SUCCESS'. See details below:",
		"Starting 'nfsserver' case 2 'double stop':",
		"Checking return value: OK. The return value 'OCF_SUCCESS' == 'OCF_SUCCESS'",
		"Cleaning 'nfsserver' ...",
	} {
		if rest, ok := strings.CutPrefix(l, "AGENT "); ok {
			out += rest + "\n"
		} else {
			out += ocftPrefix + l + "\n"
		}
	}
	r := &run{cfg: nfsConfig}
	r.guestResults("guest-x", out, 1, nil)
	if r.err != nil || len(r.problems) != 0 {
		t.Errorf("guestResults: err %v, problems %q; want none", r.err, r.problems)
	}
	want := []string{
		"0 check base env: pass (OCF_SUCCESS) ",
		"1 normal stop: FAIL (OCF_SUCCESS, OCF_ERR_GENERIC) returned OCF_ERR_GENERIC, want OCF_SUCCESS",
		"2 double stop: FAIL (OCF_SUCCESS) ocft marked it for retest",
		"3 unimplemented command: not run ",
	}
	var got []string
	for _, c := range r.cases {
		got = append(got, fmt.Sprintf("%d %s: %s %s", c.num, c.name, c.cell(true), c.summary))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("guestResults cases:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(r.cases) > 1 && len(r.cases[1].log) != 1 {
		t.Errorf("case 1 log = %q, want the agent's line", r.cases[1].log)
	}
	for _, e := range []struct {
		out string
		rc  int
		err error
	}{{out, 2, nil}, {"mkdir: cannot create directory\n", 1, nil}, {"", 143, errors.New("timeout")}} {
		r := &run{cfg: nfsConfig}
		if r.guestResults("guest-x", e.out, e.rc, e.err); r.err == nil {
			t.Errorf("guestResults(exit %d, %v, %d bytes) gave no error", e.rc, e.err, len(e.out))
		}
	}
}
