// Command plcluster drives the namespace cluster of tests/nscluster from the
// shell: make demo brings one up with it and leaves it running, and
// make demo-shell and make demo-down use it afterwards.
//
//	plcluster [-dir DIR] up [-nodes N] [-tag T] [-libvirt] [-bmc] [-shared MiB] [-token MS]
//	plcluster [-dir DIR] wait [SECONDS]
//	plcluster [-dir DIR] status
//	plcluster [-dir DIR] exec NODE COMMAND [ARG...]
//	plcluster [-dir DIR] shell NODE
//	plcluster [-dir DIR] kill|stop|boot|cut|heal NODE
//	plcluster [-dir DIR] configure [-stock]   fencing, group svc (fs, vip), vm-live
//	plcluster [-dir DIR] locate RESOURCE      the node numbers it runs on
//	plcluster [-dir DIR] vip                  which node answers for the floating IP
//	plcluster [-dir DIR] counter VM           the guest's last counter and boots
//	plcluster [-dir DIR] timeline UNIXTIME    the cluster's events since then
//	plcluster [-dir DIR] down
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/tests/guestimage"
	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/nscluster"
	"github.com/paceline-ha/paceline/tests/pcmk"
	"github.com/paceline-ha/paceline/tests/proc"
)

func main() {
	nscluster.HelperMain()
	dir := flag.String("dir", envOr("PLCLUSTER_DIR", "/var/lib/paceline-demo"), "the cluster's state directory")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: plcluster [-dir DIR] up|wait|status|exec|shell|kill|stop|boot|cut|heal|down ...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*dir, flag.Arg(0), flag.Args()[1:]); err != nil {
		if code, exited := proc.ExitCode(err); exited {
			os.Exit(code)
		}
		fmt.Fprintln(os.Stderr, "plcluster:", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func run(dir, cmd string, args []string) error {
	if cmd == "up" {
		fs := flag.NewFlagSet("up", flag.ExitOnError)
		spec := nscluster.Spec{Dir: dir}
		fs.IntVar(&spec.Nodes, "nodes", 3, "number of nodes (2 or 3)")
		fs.StringVar(&spec.Tag, "tag", "pld", "prefix of the names made on this machine")
		fs.BoolVar(&spec.Libvirt, "libvirt", false, "a libvirtd on every node")
		fs.BoolVar(&spec.BMC, "bmc", false, "a simulated IPMI BMC per node")
		fs.IntVar(&spec.SharedMiB, "shared", 0, "size of the shared disk in MiB (0: none)")
		fs.IntVar(&spec.TokenMS, "token", 0, "corosync token timeout in ms (0: corosync's default)")
		fs.DurationVar(&spec.BootDelay, "boot-delay", 0, "time from a BMC power-on to the node's start")
		_ = fs.Parse(args)
		_, err := nscluster.Up(spec)
		return err
	}
	c, err := nscluster.Open(dir)
	if errors.Is(err, os.ErrNotExist) && cmd == "down" {
		fmt.Printf("no cluster in %s: nothing to take down\n", dir)
		return nil
	}
	if err != nil {
		return fmt.Errorf("no cluster in %s: %v", dir, err)
	}
	node := func() (int, error) {
		if len(args) == 0 {
			return 0, fmt.Errorf("%s: which node?", cmd)
		}
		i, err := strconv.Atoi(args[0])
		if err != nil || i < 1 || i > c.Nodes {
			return 0, fmt.Errorf("%s: node %q: 1 to %d", cmd, args[0], c.Nodes)
		}
		return i, nil
	}
	switch cmd {
	case "wait":
		secs := 120
		if len(args) > 0 {
			if secs, err = strconv.Atoi(args[0]); err != nil {
				return fmt.Errorf("wait: %v", err)
			}
		}
		return c.WaitReady(time.Duration(secs) * time.Second)
	case "status":
		for _, i := range c.Live() {
			out, err := c.Exec(i, 30*time.Second, "crm_mon", "-1")
			fmt.Print(out)
			return err
		}
		return errors.New("no node runs")
	case "exec", "shell":
		i, err := node()
		if err != nil {
			return err
		}
		argv := []string{"bash", "-l"}
		if cmd == "exec" {
			if len(args) < 2 {
				return errors.New("exec: which command?")
			}
			argv = args[1:]
		}
		x, err := c.Command(context.Background(), i, argv[0], argv[1:]...)
		if err != nil {
			return err
		}
		x.Env = append(x.Env, "TERM="+envOr("TERM", "dumb"), "PS1=[\\u@\\h \\W]\\$ ")
		x.Stdin, x.Stdout, x.Stderr = os.Stdin, os.Stdout, os.Stderr
		return x.Run()
	case "kill", "stop", "boot", "cut", "heal":
		i, err := node()
		if err != nil {
			return err
		}
		switch cmd {
		case "kill":
			return c.Kill(i)
		case "stop":
			return c.Stop(i, 2*time.Minute)
		case "boot":
			return c.Boot(i)
		case "cut":
			return c.Cut(i)
		}
		return c.Heal(i)
	case "configure":
		fs := flag.NewFlagSet("configure", flag.ExitOnError)
		stock := fs.Bool("stock", false, "the stock agents instead of paceline's")
		_ = fs.Parse(args)
		var img guestimage.Image
		err := harness.WithScriptTB("guest image", os.Stderr, os.TempDir(), func(t *harness.ScriptTB) error {
			img = guestimage.Tiny(t)
			return nil
		})
		if err != nil {
			return err
		}
		return c.Configure(nscluster.Services{Stock: *stock, Group: true, LiveVM: true, Guest: img}, os.Stdout)
	case "locate":
		if len(args) != 1 {
			return errors.New("locate: which resource?")
		}
		nodes, err := c.Locate(args[0])
		if err != nil {
			return err
		}
		if len(nodes) == 0 {
			return fmt.Errorf("%s is not running", args[0])
		}
		for _, n := range nodes {
			fmt.Println(n)
		}
		return nil
	case "vip":
		n, err := c.VIPAnswerer()
		if err != nil {
			return err
		}
		fmt.Println(n)
		return nil
	case "counter":
		if len(args) != 1 {
			return errors.New("counter: which VM?")
		}
		data, _ := os.ReadFile(c.VMSerial(args[0]))
		fmt.Printf("%d %d\n", guestimage.LastCounter(string(data)), strings.Count(string(data), "BOOTED-OK"))
		return nil
	case "timeline":
		if len(args) != 1 {
			return errors.New("timeline: since when (unix time)?")
		}
		sec, err := strconv.ParseFloat(args[0], 64)
		if err != nil {
			return fmt.Errorf("timeline: %v", err)
		}
		t0 := time.Unix(0, int64(sec*1e9))
		pcmk.PrintTimeline(os.Stdout, t0, c.Timeline(t0))
		return nil
	case "down":
		return c.Remove()
	}
	return fmt.Errorf("unknown command %q", cmd)
}
