package fence

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary stdin and argv to the parser: it must never
// panic, and a secret value must never show in a warning or an error.
func FuzzParse(f *testing.F) {
	f.Add("action=reboot\nip=192.0.2.5\npasswd=pw\n", "-o status -a 192.0.2.5")
	f.Add("#x\n\n=\nlanplus=maybe\nprivlvl=ROOT\n", "--ip= --lanplus=2")
	f.Add("password=\"\"\nport=\n", "-pSECRET -L")
	f.Fuzz(func(t *testing.T, stdin, argv string) {
		const secret = "Zq9secretZq9"
		sp := append(specs(), Option{Name: "pin", Type: Integer, Secret: true})
		in := stdin + "\npassword=" + secret + "\npin=" + secret + "\n"
		o, err := Parse(sp, nil, strings.NewReader(in))
		if err == nil {
			for _, w := range o.Warnings {
				if strings.Contains(w, secret) && !strings.Contains(stdin, secret) {
					t.Fatalf("warning shows the secret: %q", w)
				}
			}
		}
		args := append(strings.Fields(argv), "-p", secret, "--pin", secret)
		if _, err := Parse(sp, args, nil); err != nil && strings.Contains(err.Error(), secret) && !strings.Contains(argv, secret) {
			t.Fatalf("error shows the secret: %v", err)
		}
	})
}
