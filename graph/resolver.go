// Package graph is the GraphQL transport: gqlgen's generated executor and
// thin resolvers that convert and delegate to the chat service.
package graph

//go:generate go run github.com/99designs/gqlgen generate

import "sessionhub/internal/chat"

// Resolver is the dependency root of every resolver. Its only state is the
// subscription quotas of this replica.
type Resolver struct {
	Chat          *chat.Service
	subscriptions *subscriptionLimits
	// subscriberDropped hears why the server ended a subscription on its own.
	subscriberDropped func(reason string)
}
