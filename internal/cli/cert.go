package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func certCmd() *cobra.Command {
	r := &remote{}
	cmd := &cobra.Command{Use: "cert", Short: "The edge's certificates: list, upload, remove"}
	r.flags(cmd)
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the uploaded certificates and the certificate of each name the edge serves",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			list, err := r.client().Certificates(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAMES\tSOURCE\tISSUER\tNOT AFTER\tNEXT RENEWAL\tLAST ERROR")
			for _, c := range list {
				id := "-"
				if c.ID != 0 {
					id = strconv.FormatInt(c.ID, 10)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, strings.Join(c.Names, ","), c.Source,
					orDash(c.Issuer), when(c.NotAfter), when(c.NextRenewal), orDash(c.LastError))
			}
			return w.Flush()
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "upload CERT KEY",
		Short: "Upload a certificate chain (PEM, leaf first) and its private key; it is served for the names it covers",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			certPEM, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("certificate: %w", err)
			}
			keyPEM, err := os.ReadFile(args[1])
			if err != nil {
				return fmt.Errorf("key: %w", err)
			}
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			c, err := r.client().UploadCertificate(ctx, string(certPEM), string(keyPEM))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d\t%s\tuntil %s\n", c.ID, strings.Join(c.Names, ","), when(c.NotAfter))
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "remove ID",
		Short: "Remove an uploaded certificate",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id < 1 {
				return fmt.Errorf("ID %q: want the number cert list shows", args[0])
			}
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			return r.client().RemoveCertificate(ctx, id)
		},
	})
	return cmd
}

func when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
