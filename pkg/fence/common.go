package fence

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Login returns fencing.py's options for a networked device: address,
// port, user and password, with their deprecated aliases.
func Login(defaultPort string) []Option {
	return []Option{
		{Name: "ip", Aliases: []string{"ipaddr"}, Short: "a", Arg: "[ip]", Type: String,
			ShortDesc: "IP address or hostname of fencing device"},
		{Name: "ipport", Short: "u", Arg: "[port]", Type: Integer, Default: defaultPort,
			ShortDesc: "TCP/UDP port to use for connection with device"},
		{Name: "username", Aliases: []string{"login"}, Short: "l", Arg: "[name]", Type: String,
			ShortDesc: "Login name"},
		{Name: "password", Aliases: []string{"passwd"}, Short: "p", Arg: "[password]", Type: String, Secret: true,
			ShortDesc: "Login password or passphrase"},
		{Name: "password_script", Aliases: []string{"passwd_script"}, Short: "S", Arg: "[script]", Type: String,
			ShortDesc: "Script to run to retrieve password"},
	}
}

// Action is the action option (with FenceAgentAPI's "option" accepted).
func Action() Option {
	return Option{Name: "action", Accepts: []string{"option"}, Short: "o", Arg: "[action]", Type: String,
		Default: "reboot", Required: true, ShortDesc: "Fencing action"}
}

// Plug is the plug option (port): the fencer sends it with the target's
// name; a device that switches one machine ignores it.
func Plug() Option {
	return Option{Name: "plug", Aliases: []string{"port"}, Short: "n", Arg: "[ip]", Type: String,
		ShortDesc: "IP address or hostname of fencing device (together with --port-as-ip)"}
}

// Output returns the options about messages.
func Output() []Option {
	return []Option{
		{Name: "quiet", Short: "q", Type: Boolean, ShortDesc: "Disable logging to stderr. Does not affect --verbose or --debug-file or logging to syslog."},
		{Name: "verbose", Short: "v", Type: Boolean, ShortDesc: "Verbose mode. Multiple -v flags can be stacked on the command line (e.g., -vvv) to increase verbosity."},
		{Name: "verbose_level", Type: Integer, ShortDesc: "Level of debugging detail in output. Defaults to the number of --verbose flags specified on the command line, or to 1 if verbose=1 in a stonith device configuration (i.e., on stdin)."},
		{Name: "debug_file", Aliases: []string{"debug"}, Short: "D", Arg: "[debugfile]", Type: String, ShortDesc: "Write debug information to given file"},
		{Name: "version", Short: "V", Type: Boolean, ShortDesc: "Display version information and exit"},
		{Name: "help", Short: "h", Type: Boolean, ShortDesc: "Display help and exit"},
		{Name: "plug_separator", Arg: "[char]", Type: String, Default: ",", ShortDesc: "Separator for plug parameter when specifying more than 1 plug"},
	}
}

// TimingOptions returns the sequencing options with fencing.py's defaults
// (power_wait as the agent sets it), in the order fencing.py lists them,
// with the agent's own options of that group merged in by name.
func TimingOptions(powerWait string, extra ...Option) []Option {
	list := []Option{
		{Name: "delay", Arg: "[seconds]", Type: Second, Default: "0", ShortDesc: "Wait X seconds before fencing is started"},
		{Name: "disable_timeout", Arg: "[true/false]", Type: String, ShortDesc: "Disable timeout (true/false) (default: true when run from Pacemaker 2.0+)"},
		{Name: "login_timeout", Arg: "[seconds]", Type: Second, Default: "5", ShortDesc: "Wait X seconds for cmd prompt after login"},
		{Name: "port_as_ip", Type: Boolean, ShortDesc: "Make \"port/plug\" to be an alias to IP address"},
		{Name: "power_timeout", Arg: "[seconds]", Type: Second, Default: "20", ShortDesc: "Test X seconds for status change after ON/OFF"},
		{Name: "power_wait", Arg: "[seconds]", Type: Second, Default: powerWait, ShortDesc: "Wait X seconds after issuing ON/OFF"},
		{Name: "shell_timeout", Arg: "[seconds]", Type: Second, Default: "3", ShortDesc: "Wait X seconds for cmd prompt after issuing command"},
		{Name: "stonith_status_sleep", Arg: "[seconds]", Type: Second, Default: "1", ShortDesc: "Sleep X seconds between status calls during a STONITH action"},
		{Name: "retry_on", Arg: "[attempts]", Type: Integer, Default: "1", ShortDesc: "Count of attempts to retry power on"},
	}
	list = append(list, extra...)
	slices.SortStableFunc(list, func(a, b Option) int { return strings.Compare(a.Name, b.Name) })
	return list
}

// Sudo returns the sudo options.
func Sudo() []Option {
	return []Option{
		{Name: "use_sudo", Aliases: []string{"sudo"}, Type: Boolean, Long: "use-sudo", ShortDesc: "Use sudo (without password) when calling 3rd party software"},
		{Name: "sudo_path", Arg: "[path]", Type: String, Default: "/usr/bin/sudo", ShortDesc: "Path to sudo binary"},
	}
}

// passwordScriptTimeout bounds password_script.
const passwordScriptTimeout = 10 * time.Second

// Password returns the password: password_script's output (run through
// the shell, as fencing.py does, right-stripped) when it is set, else
// the password option. Error messages never contain the output.
func (o *Options) Password(ctx context.Context) (string, error) {
	script := o.Get("password_script")
	if script == "" {
		return o.Get("password"), nil
	}
	ctx, cancel := context.WithTimeout(ctx, passwordScriptTimeout)
	defer cancel()
	// Its standard error is kept apart and never shown: it might hold
	// the secret.
	out, err := ocf.Helper{Path: "/bin/sh", Args: []string{"-c", script}, SplitStderr: true}.Run(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("password_script did not finish within %v", passwordScriptTimeout)
		}
		return "", fmt.Errorf("password_script failed (%v)", err)
	}
	return strings.TrimRight(string(out.Stdout), " \t\r\n"), nil
}
