//go:build tools

// Package main pins the code generators' versions in go.mod.
package main

import (
	_ "github.com/99designs/gqlgen"
	_ "github.com/Khan/genqlient"
)
