// Command stackhub is the StackHub server and its CLI.
package main

import (
	"fmt"
	"os"

	"github.com/stackhub/stackhub/internal/cli"
)

func main() {
	if err := cli.Root().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "stackhub:", err)
		os.Exit(1)
	}
}
