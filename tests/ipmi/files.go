package ipmi

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/paceline-ha/paceline/pkg/ocf"
	"github.com/paceline-ha/paceline/tests/harness"
)

// chassisControl is the script ipmi_sim runs for every chassis control
// request; its fields are shell words, quoted.
//
//go:embed chassis-control.sh
var chassisControl string

var chassisTemplate = template.Must(template.New("chassis-control").Parse(chassisControl))

// check validates the spec: lan.conf has no escapes in its strings.
func (b *BMC) check() error {
	for _, s := range []string{b.Name, b.Kg} {
		if strings.ContainsAny(s, "\"\\\n\r") {
			return fmt.Errorf("%q: quotes, backslashes and newlines are not possible", s)
		}
	}
	if len(b.Kg) > 20 {
		return fmt.Errorf("Kg %q is longer than 20 bytes", b.Kg)
	}
	if len(b.Users) > 60 {
		return fmt.Errorf("%d users; at most 60 are possible", len(b.Users))
	}
	for _, u := range b.Users {
		switch u.Priv {
		case "user", "operator", "admin":
		default:
			return fmt.Errorf("user %q: Priv %q, want user, operator or admin", u.Name, u.Priv)
		}
		if u.Name == "" || len(u.Name) > 16 || len(u.Password) > 20 {
			return fmt.Errorf("user %q: name 1-16 bytes and password up to 20 bytes please", u.Name)
		}
		for _, s := range []string{u.Name, u.Password} {
			if strings.ContainsAny(s, "\"\\\n\r") {
				return fmt.Errorf("user %q: quotes, backslashes and newlines are not possible", u.Name)
			}
		}
	}
	if net.ParseIP(b.Addr) == nil {
		return fmt.Errorf("Addr %q is not an IP address", b.Addr)
	}
	return nil
}

// writeFiles writes the power state (on), the command file ipmi_sim
// runs at start-up and the chassis-control script.
func (b *BMC) writeFiles() error {
	if err := os.WriteFile(b.stateFile(), []byte("1\n"), 0o600); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(b.Dir, "state"), 0o700); err != nil {
		return err
	}
	// One BMC at IPMB 0x20: device ID 0, no device SDRs, revision 3,
	// firmware 9.8, with the chassis, event receiver, FRU, SEL, SDR and
	// sensor functions (0x9f); manufacturer and product made up.
	emu := "# ipmi_sim commands of a paceline test BMC (tests/ipmi)\n" +
		"mc_setbmc 0x20\n" +
		"mc_add 0x20 0 no-device-sdrs 0x03 9 8 0x9f 0x1291 0xf02 persist_sdr\n" +
		"mc_enable 0x20\n"
	if err := os.WriteFile(filepath.Join(b.Dir, "bmc.emu"), []byte(emu), 0o600); err != nil {
		return err
	}
	hook := ":"
	if len(b.powerHook) > 0 {
		hook = harness.ShellQuote(b.powerHook...) + ` "$2" >>"$log" 2>&1 </dev/null`
	}
	var script bytes.Buffer
	if err := chassisTemplate.Execute(&script, map[string]string{
		"State": harness.ShellQuote(b.stateFile()), "Log": harness.ShellQuote(b.chassisLog()), "Hook": hook,
	}); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(b.Dir, "chassis-control"), script.Bytes(), 0o700)
}

// writeConfig writes lan.conf (0600) for the current port.
func (b *BMC) writeConfig() error {
	guid := make([]byte, 16)
	_, _ = rand.Read(guid)
	var c strings.Builder
	fmt.Fprintf(&c, "# ipmi_sim configuration of a paceline test BMC (tests/ipmi)\n")
	fmt.Fprintf(&c, "name %q\n", b.Name)
	fmt.Fprintf(&c, "set_working_mc 0x20\n")
	fmt.Fprintf(&c, "startlan 1\n")
	fmt.Fprintf(&c, "  addr %s %d\n", b.Addr, b.Port)
	fmt.Fprintf(&c, "  priv_limit admin\n")
	for _, p := range []string{"callback", "user", "operator", "admin"} {
		fmt.Fprintf(&c, "  allowed_auths_%s none md2 md5 straight\n", p)
	}
	// RMCP+ (lanplus) needs a GUID.
	fmt.Fprintf(&c, "  guid %s\n", hex.EncodeToString(guid))
	if b.Kg != "" {
		fmt.Fprintf(&c, "  bmc_key \"%s\"\n", b.Kg)
	}
	fmt.Fprintf(&c, "endlan\n")
	fmt.Fprintf(&c, "chassis_control \"%s 0x20\"\n", filepath.Join(b.Dir, "chassis-control"))
	// User 1 is IPMI's anonymous user: left out.
	for i, u := range b.Users {
		fmt.Fprintf(&c, "user %d true \"%s\" \"%s\" %s 10 none md2 md5 straight\n", i+2, u.Name, u.Password, u.Priv)
	}
	return ocf.WriteFileAtomic(filepath.Join(b.Dir, "lan.conf"), []byte(c.String()), 0o600)
}
