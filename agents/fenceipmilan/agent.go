// Package fenceipmilan is fence_paceline_ipmilan, a drop-in for
// fence-agents' fence_ipmilan: the same options, actions and exit codes,
// with IPMI spoken in-process (github.com/bougou/go-ipmi) instead of one
// ipmitool process per command, and ipmitool kept for what that library
// cannot do (a Kg key, a forced authentication type, IPMB bridging, and
// the cipher suites it mishandles), with the password never on a
// command line.
//
// go-ipmi is linked only into the paceline-fence build (tag "ipmi"): its
// packages' start-up work would cost every OCF agent process about
// 0.2 ms. The static paceline binary execs paceline-fence when it is
// called under a fence agent's name.
package fenceipmilan

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/pkg/fence"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Name is the agent's main name.
const Name = "fence_paceline_ipmilan"

// aliases are the other names it is installed under, as fence_ipmilan
// is: the name selects the defaults.
func aliases() []fence.Symlink {
	return []fence.Symlink{
		{Name: "fence_paceline_ilo3", ShortDesc: "Fence agent for HP iLO3", Defaults: map[string]string{"lanplus": "1", "power_wait": "4"}},
		{Name: "fence_paceline_ilo4", ShortDesc: "Fence agent for HP iLO4", Defaults: map[string]string{"lanplus": "1"}},
		{Name: "fence_paceline_ilo5", ShortDesc: "Fence agent for HP iLO5", Defaults: map[string]string{"lanplus": "1"}},
		{Name: "fence_paceline_ipmilanplus", ShortDesc: "Fence agent for IPMIv2 lanplus", Defaults: map[string]string{"lanplus": "1"}},
		{Name: "fence_paceline_imm", ShortDesc: "Fence agent for IBM Integrated Management Module"},
		{Name: "fence_paceline_idrac", ShortDesc: "Fence agent for Dell iDRAC"},
	}
}

// Names returns the main name and every alias.
func Names() []string {
	n := []string{Name}
	for _, a := range aliases() {
		n = append(n, a.Name)
	}
	return n
}

const longDesc = `fence_paceline_ipmilan fences machines through their IPMI BMC, as fence_ipmilan does, with the same options, actions and exit codes. It speaks IPMI over LAN itself (IPMI 1.5, and 2.0 with lanplus) instead of running ipmitool for every command, so a status costs a few milliseconds, and the password never appears on any command line. ` +
	`Differences from fence_ipmilan: without cipher it offers cipher suites 17 and then 3 explicitly instead of asking the BMC, which costs ipmitool 10 s on BMCs that ignore the question; every IPMI exchange is bounded by ipmitool_timeout with one retry, and power_timeout applies under Pacemaker too, so a dead BMC fails in seconds with a message that says so; a reboot with method cycle succeeds only once the machine was seen off; list fails when the BMC cannot be reached; "option" on stdin is taken as the action. ` +
	`With hexadecimal_kg, auth, target, or a cipher suite other than 3 and 17 it runs ipmitool, giving it the password (and Kg key) in its environment. ` +
	`Without pcmk_host_list or pcmk_host_map Pacemaker asks the agent's status whether it can fence a node, and an IPMI device answers for any node name: set pcmk_host_list.`

// Agent returns the fence agent.
func Agent() *fence.Agent {
	return &fence.Agent{
		Name:      Name,
		ShortDesc: "Fence agent for IPMI",
		LongDesc:  longDesc,
		Symlinks:  aliases(),
		Options:   options(),
		Actions: []fence.ActionSpec{
			{Name: "on", HasAuto: true}, {Name: "off"}, {Name: "reboot"}, {Name: "status"},
			{Name: "monitor"}, {Name: "metadata"}, {Name: "manpage"}, {Name: "validate-all"}, {Name: "diag"},
		},
		Validate: func(o *fence.Options) error { _, err := configOf(o); return err },
		Open:     open,
	}
}

func options() []fence.Option {
	list := []fence.Option{fence.Action(),
		{Name: "auth", Short: "A", Arg: "[auth]", Type: fence.Select, Choices: []string{"md5", "password", "none"},
			ShortDesc: "IPMI Lan Auth type."},
		{Name: "cipher", Short: "C", Arg: "[cipher]", Type: fence.String,
			ShortDesc: "Ciphersuite to use (same as ipmitool -C parameter)"},
		{Name: "hexadecimal_kg", Arg: "[key]", Type: fence.String, Secret: true,
			ShortDesc: "Hexadecimal-encoded Kg key for IPMIv2 authentication"},
	}
	login := fence.Login("623")
	list = append(list, login[0], login[1],
		fence.Option{Name: "lanplus", Short: "P", Type: fence.Boolean, Default: "0",
			ShortDesc: "Use Lanplus to improve security of connection"},
		fence.Option{Name: "method", Short: "m", Arg: "[method]", Type: fence.Select, Default: "onoff",
			Choices: []string{"onoff", "cycle"}, ShortDesc: "Method to fence"},
		login[3], login[4], fence.Plug(),
		fence.Option{Name: "privlvl", Short: "L", Arg: "[level]", Type: fence.Select, Default: "administrator",
			Choices: []string{"callback", "user", "operator", "administrator"}, ShortDesc: "Privilege level on IPMI device"},
		fence.Option{Name: "target", Arg: "[targetaddress]", Type: fence.String,
			ShortDesc: "Bridge IPMI requests to the remote target address"},
		login[2],
	)
	list = append(list, fence.Output()...)
	list = append(list, fence.TimingOptions("2",
		fence.Option{Name: "ipmitool_path", Arg: "[path]", Type: fence.String, Default: "/usr/bin/ipmitool", ShortDesc: "Path to ipmitool binary"},
		fence.Option{Name: "ipmitool_timeout", Arg: "[timeout]", Type: fence.String, Default: "2", ShortDesc: "Timeout (sec) for IPMI operation"},
	)...)
	return append(list, fence.Sudo()...)
}

// Config is what the device needs, checked.
type Config struct {
	Host     string
	Port     int
	User     string
	Lanplus  bool
	Ciphers  []int // offered in order; set explicitly or the default
	Priv     string
	Auth     string // md5, password, none; "" lets the BMC choose
	Kg       []byte
	Target   string
	Timeout  time.Duration // per exchange attempt
	Retries  int           // further attempts of an exchange
	Ipmitool string
	Sudo     string // sudo's path when use_sudo
	Verbose  int
	// password is read at Open (it may come from password_script).
	opts *fence.Options
}

// DefaultCiphers are offered when no cipher is set: SHA-256 first, then
// the suite ipmitool used before 1.8.19. Both explicitly, so the BMC is
// never asked for its list (which BMCs that ignore the question make
// ipmitool wait 10 s for).
var DefaultCiphers = []int{17, 3}

// nativeCipher tells the suites go-ipmi handles (others: ipmitool).
func nativeCipher(id int) bool { return id == 3 || id == 17 }

func configOf(o *fence.Options) (Config, error) {
	c := Config{
		Host:     o.Get("ip"),
		User:     o.Get("username"),
		Lanplus:  o.Bool("lanplus"),
		Priv:     o.Get("privlvl"),
		Auth:     o.Get("auth"),
		Target:   o.Get("target"),
		Ipmitool: o.Get("ipmitool_path"),
		Retries:  1,
		opts:     o,
	}
	if o.Bool("port_as_ip") && o.Get("plug") != "" {
		c.Host = o.Get("plug")
	}
	if c.Host == "" {
		return c, fmt.Errorf("no BMC address: set ip (or port_as_ip with plug)")
	}
	if strings.ContainsAny(c.Host, " \t\n/") {
		return c, fmt.Errorf("ip %q is not an address or host name", c.Host)
	}
	port, err := strconv.Atoi(o.Get("ipport"))
	if err != nil || port < 1 || port > 65535 {
		return c, fmt.Errorf("ipport %q is not a UDP port", o.Get("ipport"))
	}
	c.Port = port
	if len(c.User) > 16 {
		return c, fmt.Errorf("username is longer than IPMI's 16 characters")
	}
	if s := strings.TrimSpace(o.Get("cipher")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 19 {
			return c, fmt.Errorf("cipher %q is not an IPMI cipher suite (0 to 19)", s)
		}
		c.Ciphers = []int{n}
	} else if c.Lanplus {
		c.Ciphers = DefaultCiphers
	}
	if kg := o.Get("hexadecimal_kg"); kg != "" {
		b, err := hex.DecodeString(strings.TrimPrefix(strings.TrimPrefix(kg, "0x"), "0X"))
		if err != nil || len(b) == 0 || len(b) > 20 {
			return c, fmt.Errorf("hexadecimal_kg is not a key of 1 to 20 bytes in hexadecimal")
		}
		// ipmitool takes a key from its environment only as a C string.
		trimmed := strings.TrimRight(string(b), "\x00")
		if strings.IndexByte(trimmed, 0) >= 0 {
			return c, fmt.Errorf("hexadecimal_kg has a zero byte inside the key, which ipmitool accepts only on its command line, where every user could read it")
		}
		c.Kg = []byte(trimmed)
	}
	t := strings.TrimSpace(o.Get("ipmitool_timeout"))
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f <= 0 || f > 300 {
		return c, fmt.Errorf("ipmitool_timeout %q is not a number of seconds", t)
	}
	c.Timeout = time.Duration(f * float64(time.Second))
	if o.Bool("use_sudo") {
		c.Sudo = o.Get("sudo_path")
	}
	c.Verbose = int(o.Float("verbose_level"))
	return c, nil
}

// ToolReason says why ipmitool must serve this configuration, or "".
func (c Config) ToolReason() string {
	switch {
	case len(c.Kg) > 0:
		return "a Kg key (hexadecimal_kg)"
	case c.Auth != "":
		return "a forced authentication type (auth)"
	case c.Target != "":
		return "IPMB bridging (target)"
	case c.Lanplus && len(c.Ciphers) == 1 && !nativeCipher(c.Ciphers[0]):
		return fmt.Sprintf("cipher suite %d", c.Ciphers[0])
	}
	return ""
}

func (c Config) addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

func (c Config) iface() string {
	if c.Lanplus {
		return "lanplus"
	}
	return "lan"
}

func open(ctx context.Context, o *fence.Options, log *ocf.Logger) (fence.Device, error) {
	c, err := configOf(o)
	if err != nil {
		return nil, err
	}
	pw, err := o.Password(ctx)
	if err != nil {
		return nil, err
	}
	if why := c.ToolReason(); why != "" {
		log.Debugf("using %s for %s", c.Ipmitool, why)
		return &tool{cfg: c, password: pw, log: log}, nil
	}
	return newNative(c, pw, log)
}
