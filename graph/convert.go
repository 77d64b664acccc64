package graph

import (
	"context"

	"sessionhub/graph/model"
	"sessionhub/models"
)

// sentMessage notes a send's result, so that its session link is read
// once, after the send (the session as the send left it).
func sentMessage(ctx context.Context, msg *models.Message, err error) (*models.Message, error) {
	if err != nil {
		return nil, err
	}
	noteMessages(ctx, []*models.Message{msg})
	return msg, nil
}

// messageInput converts the send mutations' input.
func messageInput(in model.SendSessionMessageInput) models.MessageInput {
	return models.MessageInput{
		Content:        in.Content,
		Metadata:       in.Metadata,
		Attachments:    values(in.Attachments),
		IdempotencyKey: deref(in.IdempotencyKey),
	}
}

// deref returns *p; for nil, the fallback if one is given, else the zero value.
func deref[T any](p *T, fallback ...T) T {
	if p != nil {
		return *p
	}
	var zero T
	if len(fallback) > 0 {
		return fallback[0]
	}
	return zero
}

// values turns gqlgen's []*T list input into a slice of values.
func values[T any](in []*T) []T {
	if in == nil {
		return nil
	}
	out := make([]T, len(in))
	for i, p := range in {
		out[i] = *p
	}
	return out
}

// orNull answers a nullable lookup: an error with the not-found code becomes
// a null result; every other error is returned.
func orNull[T any](v *T, err error, notFound models.Code) (*T, error) {
	if err != nil && models.ErrorCode(err) == notFound {
		return nil, nil
	}
	return v, err
}
