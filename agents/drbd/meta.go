package drbd

import (
	"time"

	drbdstate "github.com/paceline-ha/paceline/pkg/drbd"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Version is the agent's own version, shown in its metadata.
const Version = "1.0"

// Metadata describes ocf:paceline:drbd with the parameters and defaults of
// ocf:linbit:drbd (drbd-utils 9.22).
func Metadata() ocf.Metadata {
	s, b, i := ocf.TypeString, ocf.TypeBoolean, ocf.TypeInteger
	res := ocf.Param("drbd_resource", s, "", "DRBD resource name",
		`The name of the resource in the DRBD configuration. Letters, digits and
		- % + . / : = @ _ only.`).Key()
	return ocf.Metadata{
		Name:      "drbd",
		Version:   Version,
		ShortDesc: "Manages a DRBD resource as a promotable clone (native)",
		LongDesc: `Brings a DRBD resource up and down and promotes and demotes it, as a
		promotable clone with notifications on. A drop-in replacement for
		ocf:linbit:drbd with the same parameters and the same promotion scores
		(the node attribute master-RESOURCE), for the DRBD 8.4 and DRBD 9
		kernel modules.

		monitor reads the state with one drbdsetup events2 call and returns 0
		(Secondary), 8 (Primary), 7 (not running), or 9 when this node is
		Primary but has no UpToDate copy of its data within reach (its disk
		failed and no connected peer is UpToDate) or has lost quorum. The
		promotion score is written through crm_attribute only when it changes
		(and re-asserted once a minute), so a steady monitor starts no program
		besides drbdsetup. Probes that find the resource stopped leave the score
		alone.

		Differences from ocf:linbit:drbd: promote refuses, with a reason, when
		a volume has no UpToDate data here or on a connected peer, and when a
		peer stays Primary for 10 seconds while promoted-max is 1 (it then
		also removes this node's score), instead of retrying until the
		timeout; stop falls back to drbdsetup when drbdadm cannot read the
		configuration; every loop (start's wait for the peer, promote, demote, stop)
		ends before the operation's timeout with an exit reason; a recurring
		monitor that finds the resource stopped removes the score (upstream
		could set 9999); a disk still Attaching or Negotiating keeps the score
		as it is (upstream's DRBD 9 path counted it as UpToDate);
		fail_promote_early_if_peer_primary is always in effect. The state is
		parsed, never evaluated as shell code.`,
		Parameters: []ocf.Parameter{
			res,
			ocf.Param("drbdconf", s, "/etc/drbd.conf", "Path to drbd.conf",
				`The DRBD configuration file drbdadm reads (drbdadm -c).`),
			ocf.Param("stop_outdates_secondary", b, "false", "Outdate a Secondary on stop",
				`On stop, and on a post notification while the peer's disk is unknown,
				mark the local data Outdated when another node is promoted, so that it
				cannot be promoted later by mistake. Off by default, as upstream: old
				Pacemaker versions sent wrong notification variables.`),
			ocf.Param("ignore_missing_notifications", b, "false", "Allow notify=false",
				`Without this, every action except stop, monitor and validate-all fails
				with "not configured" (6) when the clone does not have notify=true. The
				agent needs the notifications to connect peers started later.`),
			ocf.Param("adjust_master_score", s, drbdstate.DefaultAdjustString, "Promotion scores",
				`Four non-decreasing numbers separated by spaces: the score for only
				Consistent data; only a peer UpToDate; UpToDate here, Secondary, with
				some peer's disk unknown; UpToDate here and Primary or every peer's disk
				known. 0 removes the score. An invalid value is logged and the default
				used.`),
			ocf.Param("wfc_timeout", i, "5", "Seconds to wait for the peer on start",
				`After start, wait up to this many seconds for the connection to the
				peers. Not connecting in time is only logged. Empty or not a number:
				do not wait.`),
			ocf.Param("remove_master_score_if_peer_primary", s, "false", "Remove the score while a peer is Primary",
				`true: while this node is Secondary connected to a Primary peer whose
				data is UpToDate, remove this node's promotion score. unexpected: only
				when Pacemaker knows of no promoted instance (a Primary it did not make).
				false: keep it. Only with promoted-max=1.`),
			ocf.Param("fail_promote_early_if_peer_primary", b, "false", "Fail promote early while a peer is Primary",
				`Accepted for compatibility: this agent always fails a promote, and
				removes this node's score, when a peer stays Primary for 10 seconds
				and dual-primary is not configured.`),
			ocf.Param("unfence_if_all_uptodate", b, "false", "Unfence the peer when all is UpToDate",
				`On a Primary whose local and peer disks are all UpToDate, run drbdadm
				unfence-peer, which removes a constraint the fence-peer handler placed.`),
			ocf.Param("unfence_extra_args", s, "--quiet --flock-required --flock-timeout 0 --unfence-only-if-owner-match",
				"Arguments for the unfence-peer handler",
				`Extra arguments for the crm-unfence-peer handler, handed to it in the
				environment as upstream does.`),
			ocf.Param("require_drbd_module_version_ge", s, "8.0.0", "Oldest DRBD module accepted",
				`Fail with "not installed" (5) when the loaded DRBD module is older than
				this x.y.z version. Empty: no check.`),
			ocf.Param("require_drbd_module_version_lt", s, "10.0.0", "First DRBD module version refused",
				`Fail with "not installed" (5) unless the loaded DRBD module is older
				than this x.y.z version. Empty: no check.`),
			ocf.Param("connect_only_after_promote", b, "false", "Connect only after promotion",
				`Start attaches the disk without connecting; promote connects. For
				stacked resources.`),
		},
		Actions: []ocf.ActionSpec{
			{Name: "start", Timeout: 240 * time.Second},
			{Name: "promote", Timeout: 90 * time.Second},
			{Name: "demote", Timeout: 90 * time.Second},
			{Name: "notify", Timeout: 90 * time.Second},
			{Name: "stop", Timeout: 100 * time.Second},
			{Name: "reload", Timeout: 30 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 20 * time.Second, Role: "Unpromoted", HasDepth: true},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second, Role: "Promoted", HasDepth: true},
			{Name: "meta-data", Timeout: 5 * time.Second},
			{Name: "validate-all", Timeout: 20 * time.Second},
		},
	}
}
