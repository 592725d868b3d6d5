package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func serverCmd() *cobra.Command {
	r := &remote{}
	cmd := &cobra.Command{Use: "server", Short: "The server's health"}
	r.flags(cmd)
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Show CPU, memory, disk, load, the Docker Engine and risks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			srv, err := r.client().Server(ctx)
			if err != nil {
				return err
			}
			s := srv.Metrics
			const gb = 1 << 30
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "cpu:     %.0f%% of %d cores\nmemory:  %.0f%% (%.1f of %.1f GB)\ndisk:    %.0f%% (%.1f of %.1f GB)\n",
				s.CPUPercent, s.CPUCores, s.MemPercent(), float64(s.MemUsed)/gb, float64(s.MemTotal)/gb,
				s.DiskPercent(), float64(s.DiskUsed)/gb, float64(s.DiskTotal)/gb)
			fmt.Fprintf(out, "load:    %.2f %.2f %.2f\ndocker:  %s\napps:    %d\nrisks:   %d\n", s.Load1, s.Load5,
				s.Load15, srv.Docker, srv.Instances, len(srv.Risks))
			for _, risk := range srv.Risks {
				fmt.Fprintf(out, "  - %s\n", risk)
			}
			return nil
		},
	})
	return cmd
}
