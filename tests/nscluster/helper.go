package nscluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/proc"
)

// helperArg marks the helper's command lines (HelperMain).
const helperArg = "__paceline_cluster__"

// helperArgv is the command line of the helper's command cmd for this
// cluster.
func (c *Cluster) helperArgv(cmd string, args ...string) []string {
	return append([]string{c.Helper, helperArg, cmd, c.Dir}, args...)
}

// Main is harness.Main for a test package that brings up a namespace
// cluster: its test binary is also the cluster's helper.
func Main(m *testing.M) int {
	HelperMain()
	return harness.Main(m)
}

// HelperMain runs the cluster helper when this program was started as
// one (by Cluster.Boot, or by a BMC's power hook) and then exits;
// otherwise it returns at once. Every program that makes a Cluster calls
// it first thing: test packages through Main, plcluster and the bench
// from main.
//
//	<prog> __paceline_cluster__ node DIR I     node I's PID 1
//	<prog> __paceline_cluster__ power DIR I 0|1 its BMC switched the power
//	<prog> __paceline_cluster__ poweron DIR I    boot after BootDelay
func HelperMain() {
	if len(os.Args) < 2 || os.Args[1] != helperArg {
		return
	}
	a := os.Args[2:]
	if len(a) < 3 {
		fmt.Fprintf(os.Stderr, "cluster helper: usage: %s node DIR I | power DIR I 0|1\n", helperArg)
		os.Exit(2)
	}
	i, err := strconv.Atoi(a[2])
	if err != nil {
		fmt.Fprintf(os.Stderr, "cluster helper: node %q: %v\n", a[2], err)
		os.Exit(2)
	}
	c, err := Open(a[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "cluster helper: %v\n", err)
		os.Exit(1)
	}
	switch {
	case a[0] == "node":
		os.Exit(c.nodeInit(i))
	case a[0] == "power" && len(a) == 4:
		// Runs inside ipmi_sim's chassis control: its output goes to
		// the BMC's chassis.log.
		var err error
		if a[3] == "0" {
			err = c.Kill(i)
			fmt.Printf("%s power off: %s killed (%v)\n", stamp(), NodeName(i), err)
		} else if c.BootDelay == 0 {
			err = c.Boot(i)
			fmt.Printf("%s power on: %s booting (%v)\n", stamp(), NodeName(i), err)
		} else {
			// ipmi_sim waits for this hook: the delay runs apart.
			_, err = proc.Start(proc.Spec{Argv: c.helperArgv("poweron", strconv.Itoa(i)), Dir: "/",
				Log: filepath.Join(c.bmcDir(i), "chassis.log"), Detach: true})
			fmt.Printf("%s power on: %s boots in %v (%v)\n", stamp(), NodeName(i), c.BootDelay, err)
		}
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	case a[0] == "poweron":
		time.Sleep(c.BootDelay)
		// Unless the power went off again meanwhile.
		if data, _ := os.ReadFile(filepath.Join(c.bmcDir(i), "power")); strings.TrimSpace(string(data)) != "1" {
			fmt.Printf("%s %s: power is off again, not booting\n", stamp(), NodeName(i))
			os.Exit(0)
		}
		err := c.Boot(i)
		fmt.Printf("%s %s booting (%v)\n", stamp(), NodeName(i), err)
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	fmt.Fprintf(os.Stderr, "cluster helper: unknown command %q\n", a)
	os.Exit(2)
}

func stamp() string { return time.Now().Format("15:04:05.000") }
