package client

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/Khan/genqlient/graphql"
	"github.com/coder/websocket"
)

// DialWebSocket opens a subscription socket for genqlient's Dialer:
// genqlient names the subprotocol in header, which the handshake must
// carry as a subprotocol instead.
func DialWebSocket(ctx context.Context, url string, header http.Header) (*websocket.Conn, error) {
	header = header.Clone()
	var protocols []string
	for p := range strings.SplitSeq(header.Get("Sec-WebSocket-Protocol"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			protocols = append(protocols, p)
		}
	}
	header.Del("Sec-WebSocket-Protocol")
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header, Subprotocols: protocols})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	return conn, nil
}

// WSConn adapts a github.com/coder/websocket connection to genqlient's
// WSConn. It answers graphql-transport-ws pings itself and drops pongs and
// keep-alives: genqlient v0.8.1 treats any message without a subscription
// id as fatal and stops reading.
func WSConn(conn *websocket.Conn) graphql.WSConn { return &wsConn{conn: conn} }

type wsConn struct{ conn *websocket.Conn }

func (c *wsConn) ReadMessage() (int, []byte, error) {
	for {
		typ, data, err := c.conn.Read(context.Background())
		if err != nil {
			return 0, nil, err
		}
		var m struct {
			Type string `json:"type"`
		}
		if typ == websocket.MessageText && json.Unmarshal(data, &m) == nil {
			switch m.Type {
			case "ping":
				if err := c.conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"pong"}`)); err != nil {
					return 0, nil, err
				}
				continue
			case "pong", "ka":
				continue
			}
		}
		return int(typ), data, nil
	}
}

// closeMessage is RFC 6455's close frame type, which genqlient writes to close.
const closeMessage = 8

func (c *wsConn) WriteMessage(messageType int, data []byte) error {
	if messageType == closeMessage {
		code := websocket.StatusNormalClosure
		if len(data) >= 2 {
			code = websocket.StatusCode(binary.BigEndian.Uint16(data))
			data = data[2:]
		}
		return c.conn.Close(code, string(data))
	}
	return c.conn.Write(context.Background(), websocket.MessageType(messageType), data)
}

func (c *wsConn) Close() error {
	if err := c.conn.CloseNow(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
