# Starts the cluster stack in a DRBD guest that has just booted (run by
# Cluster.nodeUp through the guest's agent): the clock from the host (so
# that log times compare), corosync.conf and the authkey, the seed CIB,
# corosync, then pacemakerd.
set -e
date -s @{{.Now}} >/dev/null
mkdir -p /etc/corosync /var/log/corosync /var/log/pacemaker /var/lib/corosync /run/resource-agents
base64 -d > /etc/corosync/authkey <<'PACELINE_EOF'
{{.Authkey}}
PACELINE_EOF
chmod 400 /etc/corosync/authkey
cat > /etc/corosync/corosync.conf <<'PACELINE_EOF'
{{.CorosyncConf}}PACELINE_EOF
rm -rf /var/lib/pacemaker/cib /var/lib/pacemaker/pengine
mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores
cat > /var/lib/pacemaker/cib/cib.xml <<'PACELINE_EOF'
{{.CIB}}PACELINE_EOF
chmod 600 /var/lib/pacemaker/cib/cib.xml
chown -R hacluster:haclient /var/lib/pacemaker /var/log/pacemaker
chmod 750 /var/lib/pacemaker/cib /var/lib/pacemaker/pengine
chmod 770 /var/log/pacemaker
export TZ=UTC
setsid corosync -f </dev/null >>/var/log/corosync/stdout.log 2>&1 &
for i in $(seq 150); do corosync-cfgtool -s >/dev/null 2>&1 && break; sleep 0.2; done
corosync-cfgtool -s >/dev/null
PCMK_logfile=/var/log/pacemaker/pacemaker.log PCMK_logfacility=none setsid pacemakerd </dev/null >>/var/log/pacemaker/stdout.log 2>&1 &
