package virtualdomain

import (
	"fmt"
	"strings"
)

// plainUser is what upstream accepts as migration_user: ^[a-z][-a-z0-9]*$.
func plainUser(u string) bool {
	for i, c := range u {
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c == '-' || c >= '0' && c <= '9'):
		default:
			return false
		}
	}
	return u != ""
}

// splitURI splits a libvirt URI as upstream's sed does: the scheme, the
// :port (with its colon, or empty) and the path after the slash that
// follows the host. ok is false when the URI has no such shape.
func splitURI(uri string) (scheme, port, path string, ok bool) {
	i := strings.Index(uri, "://")
	if i < 0 {
		return "", "", "", false
	}
	scheme, rest := uri[:i], uri[i+3:]
	j := strings.IndexByte(rest, '/')
	if j < 0 {
		return "", "", "", false
	}
	host := rest[:j]
	if k := strings.IndexByte(host, ':'); k >= 0 {
		port = host[k:]
		for _, c := range port[1:] {
			if c < '0' || c > '9' {
				return "", "", "", false
			}
		}
	}
	return scheme, port, rest[j+1:], true
}

// withSuffix inserts the migration network suffix after the first label
// of a node name: node2 → node2-mig, node2.example.com → node2-mig.example.com.
func withSuffix(node, suffix string) string {
	if suffix == "" {
		return node
	}
	first, rest, dotted := strings.Cut(node, ".")
	if !dotted {
		return first + suffix
	}
	return first + suffix + "." + rest
}

// RemoteURI is the libvirt URI of the migration target, built the way
// ocf:heartbeat:VirtualDomain builds it: remoteuri with %n replaced by the
// target, else the local hypervisor URI with +transport added to its
// scheme and its host replaced by [user@]target[suffix], port kept.
func RemoteURI(c *Config, localURI, target string) (string, error) {
	if c.RemoteURI != "" {
		return strings.ReplaceAll(c.RemoteURI, "%n", target), nil
	}
	host := withSuffix(target, c.NetSuffix)
	if plainUser(c.User) {
		host = c.User + "@" + host
	}
	scheme, port, path, ok := splitURI(localURI)
	if !ok {
		return "", fmt.Errorf("cannot build the target's URI from the hypervisor URI %q; set remoteuri", localURI)
	}
	if c.Transport != "" {
		// qemu+unix:///system with transport tcp becomes qemu+tcp://...
		scheme, _, _ = strings.Cut(scheme, "+")
		scheme += "+" + c.Transport
	}
	return scheme + "://" + host + port + "/" + path, nil
}

// MigrateURI is the URI of the memory stream: migrateuri, else --migrateuri
// from migrate_options (%n replaced by the target with its suffix), else,
// only when a network suffix is set, tcp:<target><suffix>:<port> for qemu
// and <target><suffix> for xen. Empty lets libvirt choose. port is used
// when the configuration gives none.
func MigrateURI(c *Config, localURI, target string, port int) string {
	node := withSuffix(target, c.NetSuffix)
	switch {
	case c.MigrateURI != "":
		return strings.ReplaceAll(c.MigrateURI, "%n", node)
	case c.MigrateOpts.MigrateURI != "":
		return strings.ReplaceAll(c.MigrateOpts.MigrateURI, "%n", node)
	case c.NetSuffix == "":
		return ""
	}
	if c.MigratePort != 0 {
		port = c.MigratePort
	}
	driver := localURI
	if i := strings.IndexAny(driver, "+:"); i >= 0 {
		driver = driver[:i]
	}
	switch driver {
	case "qemu":
		return fmt.Sprintf("tcp:%s:%d", node, port)
	case "xen":
		return node
	}
	return ""
}
