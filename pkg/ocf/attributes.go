package ocf

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Lifetime of a node attribute, as crm_attribute's --lifetime takes it.
type Lifetime string

// Node attribute lifetimes.
const (
	Reboot  Lifetime = "reboot"  // transient: cleared when the node leaves
	Forever Lifetime = "forever" // kept in the node's configuration
)

// CommandRunner runs a command with a deadline and returns its standard
// output. The real one is ExecRunner; tests use a fake.
type CommandRunner func(ctx context.Context, name string, args ...string) ([]byte, error)

// ExecRunner runs the command as a Helper and returns its standard
// output; a failure carries its standard error.
func ExecRunner(ctx context.Context, name string, args ...string) ([]byte, error) {
	out, err := Helper{Path: name, Args: args, SplitStderr: true}.Run(ctx)
	if err != nil {
		if msg := strings.TrimSpace(string(out.Stderr)); msg != "" && ctx.Err() == nil {
			return out.Stdout, fmt.Errorf("%w: %s", err, msg)
		}
		return out.Stdout, err
	}
	return out.Stdout, nil
}

// Attributes sets, reads and deletes node attributes through Pacemaker's
// crm_attribute, including the promotion scores ("master-<resource>") that
// promotable agents publish.
type Attributes struct {
	Command string // path or name of crm_attribute
	Node    string // node name; empty means the local node
	Run     CommandRunner
}

// Attributes returns the helper for the node this action runs on.
func (r *Request) Attributes() *Attributes {
	return &Attributes{Command: "crm_attribute", Node: r.Meta.OnNode, Run: ExecRunner}
}

func (a *Attributes) args(name string, lt Lifetime, rest ...string) []string {
	args := []string{}
	if a.Node != "" {
		args = append(args, "--node", a.Node)
	}
	args = append(args, "--name", name, "--lifetime", string(lt))
	return append(args, rest...)
}

// Set runs crm_attribute --name NAME --lifetime LT --update VALUE.
func (a *Attributes) Set(ctx context.Context, name, value string, lt Lifetime) error {
	_, err := a.Run(ctx, a.Command, a.args(name, lt, "--update", value)...)
	return err
}

// Delete runs crm_attribute --name NAME --lifetime LT --delete. Deleting an
// attribute that does not exist is not an error.
func (a *Attributes) Delete(ctx context.Context, name string, lt Lifetime) error {
	_, err := a.Run(ctx, a.Command, a.args(name, lt, "--delete")...)
	return err
}

// ErrNoAttribute is returned by Get when the attribute is not set.
var ErrNoAttribute = errors.New("attribute not set")

// Get reads an attribute with crm_attribute --query --quiet.
func (a *Attributes) Get(ctx context.Context, name string, lt Lifetime) (string, error) {
	out, err := a.Run(ctx, a.Command, a.args(name, lt, "--query", "--quiet")...)
	if err != nil {
		// crm_attribute exits 105 (no such object) for a missing attribute.
		var ee *ExitError
		if errors.As(err, &ee) && ee.Code == 105 {
			return "", ErrNoAttribute
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// PromotionName is the attribute that carries a promotable resource's
// promotion score on a node.
func PromotionName(baseInstance string) string { return "master-" + baseInstance }

// SetPromotionScore publishes this node's promotion score (what crm_master
// -l reboot -v SCORE does).
func (a *Attributes) SetPromotionScore(ctx context.Context, baseInstance string, score int) error {
	return a.Set(ctx, PromotionName(baseInstance), strconv.Itoa(score), Reboot)
}

// DeletePromotionScore removes this node's promotion score.
func (a *Attributes) DeletePromotionScore(ctx context.Context, baseInstance string) error {
	return a.Delete(ctx, PromotionName(baseInstance), Reboot)
}
