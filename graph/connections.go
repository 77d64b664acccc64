package graph

import (
	"sessionhub/graph/model"
	"sessionhub/internal/chat"
	"sessionhub/models"
)

func pageArgs(first *int, after *string, last *int, before *string) models.PageArgs {
	return models.PageArgs{First: first, After: deref(after), Last: last, Before: deref(before)}
}

func sessionFilter(f *model.SessionFilter) chat.SessionFilter {
	if f == nil {
		return chat.SessionFilter{}
	}
	return chat.SessionFilter{AgentID: deref(f.AgentID), UserID: deref(f.UserID), State: f.State}
}

func sessionConnection(page *chat.SessionPage) *model.SessionConnection {
	conn := &model.SessionConnection{Nodes: page.Sessions, PageInfo: &page.Info}
	conn.Edges = make([]*model.SessionEdge, len(page.Sessions))
	for i, s := range page.Sessions {
		conn.Edges[i] = &model.SessionEdge{Cursor: models.KeyOf(s.CreatedAt, s.ID).Cursor(), Node: s}
	}
	return conn
}

func messageConnection(page *chat.MessagePage) *model.MessageConnection {
	conn := &model.MessageConnection{Nodes: page.Messages, PageInfo: &page.Info}
	conn.Edges = make([]*model.MessageEdge, len(page.Messages))
	for i, m := range page.Messages {
		conn.Edges[i] = &model.MessageEdge{Cursor: models.KeyOf(m.CreatedAt, m.ID).Cursor(), Node: m}
	}
	return conn
}
