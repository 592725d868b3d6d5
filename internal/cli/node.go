package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func nodeCmd() *cobra.Command {
	r := &remote{}
	cmd := &cobra.Command{Use: "node", Short: "The nodes apps run on (a Swarm's with serve --engine swarm)"}
	r.flags(cmd)
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the nodes with their state, resources and apps",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			nodes, err := r.client().Nodes(ctx)
			if err != nil {
				return err
			}
			const gb = 1 << 30
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "HOSTNAME\tROLE\tSTATE\tAVAILABILITY\tADDRESS\tCPUS\tMEMORY\tENGINE\tAPPS")
			for _, n := range nodes {
				role := n.Role
				if n.Leader {
					role += " (leader)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%g\t%.1f GB\t%s\t%s\n", n.Hostname, role, n.State, n.Availability,
					orDash(n.Address), n.CPUs, float64(n.MemoryBytes)/gb, orDash(n.EngineVersion),
					orDash(strings.Join(n.Apps, ",")))
			}
			return tw.Flush()
		},
	})
	return cmd
}
