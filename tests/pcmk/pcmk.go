// Package pcmk is what the two test clusters (nscluster's namespace
// nodes and drbdlab's qemu guests) share about Corosync and Pacemaker:
// corosync.conf and the seed CIB they start with, crm_mon's XML, the
// events of pacemaker.log and the failover timeline told from them and
// from the BMCs, and which node answers ARP for the floating address.
package pcmk

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/paceline-ha/paceline/tests/proc"
)

// CorosyncConf renders corosync.conf for the named nodes (node IDs from
// 1 in order, one knet link on addrs): knet with encryption, votequorum
// (two_node for two nodes), logging to a file only (no syslog socket in
// the test nodes), one multi-line node block per node (corosync rejects
// a block on one line); tokenMS 0 keeps corosync's default.
func CorosyncConf(cluster string, tokenMS int, names, addrs []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# written by the paceline test cluster (tests/pcmk)\n")
	fmt.Fprintf(&b, "totem {\n\tversion: 2\n\tcluster_name: %s\n\ttransport: knet\n", cluster)
	fmt.Fprintf(&b, "\tcrypto_cipher: aes256\n\tcrypto_hash: sha256\n")
	if tokenMS > 0 {
		fmt.Fprintf(&b, "\ttoken: %d\n", tokenMS)
	}
	fmt.Fprintf(&b, "}\nquorum {\n\tprovider: corosync_votequorum\n")
	if len(names) == 2 {
		fmt.Fprintf(&b, "\ttwo_node: 1\n")
	}
	fmt.Fprintf(&b, "}\nlogging {\n\tto_logfile: yes\n\tlogfile: /var/log/corosync/corosync.log\n")
	fmt.Fprintf(&b, "\tto_syslog: no\n\tto_stderr: no\n\ttimestamp: hires\n}\nnodelist {\n")
	for i := range names {
		fmt.Fprintf(&b, "\tnode {\n\t\tnodeid: %d\n\t\tname: %s\n\t\tring0_addr: %s\n\t}\n", i+1, names[i], addrs[i])
	}
	b.WriteString("}\n")
	return b.String()
}

// WriteSeedCIB writes an empty CIB with stonith disabled (the
// configuration enables it with the fence devices) and dc-deadtime set,
// so that a new cluster elects its DC in seconds, not 20.
func WriteSeedCIB(seed, dcDeadtime string) error {
	out, err := proc.Command(context.Background(), "cibadmin", "--empty").Output()
	if err != nil {
		return fmt.Errorf("cibadmin --empty: %v", err)
	}
	if err := os.WriteFile(seed, out, 0o600); err != nil {
		return err
	}
	for _, nv := range [][2]string{{"stonith-enabled", "false"}, {"dc-deadtime", dcDeadtime}} {
		cmd := proc.Command(context.Background(), "crm_attribute", "--type", "crm_config", "--name", nv[0], "--update", nv[1])
		cmd.Env = append(os.Environ(), "CIB_file="+seed)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("seed CIB %s: %v\n%s", nv[0], err, out)
		}
	}
	return nil
}
