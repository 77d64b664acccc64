package telemetry

import (
	"fmt"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The collector's message types live in a package that also holds its gRPC
// service, which would link gRPC into the binary; both messages are simple
// enough to write and read field by field.

// marshalExportRequest encodes ExportTraceServiceRequest
// { repeated ResourceSpans resource_spans = 1; }.
func marshalExportRequest(resourceSpans []*tracepb.ResourceSpans) ([]byte, error) {
	var b []byte
	opts := proto.MarshalOptions{UseCachedSize: true}
	for _, rs := range resourceSpans {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(proto.Size(rs)))
		var err error
		if b, err = opts.MarshalAppend(b, rs); err != nil {
			return nil, fmt.Errorf("encoding spans: %w", err)
		}
	}
	return b, nil
}

// partialSuccess decodes ExportTraceServiceResponse
// { ExportTracePartialSuccess partial_success = 1; } where
// ExportTracePartialSuccess is { int64 rejected_spans = 1; string error_message = 2; }.
func partialSuccess(body []byte) (rejected int64, message string, err error) {
	b, err := bytesField(body, 1)
	if err != nil {
		return 0, "", err
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, "", protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, "", protowire.ParseError(n)
			}
			rejected, b = int64(v), b[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, "", protowire.ParseError(n)
			}
			message, b = string(v), b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return 0, "", protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	return rejected, message, nil
}

// bytesField returns the last occurrence of length-delimited field num in
// message b: nil if absent (or empty).
func bytesField(b []byte, num protowire.Number) ([]byte, error) {
	var found []byte
	for len(b) > 0 {
		n, typ, tagLen := protowire.ConsumeTag(b)
		if tagLen < 0 {
			return nil, protowire.ParseError(tagLen)
		}
		b = b[tagLen:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return nil, protowire.ParseError(l)
			}
			found, b = v, b[l:]
			continue
		}
		l := protowire.ConsumeFieldValue(n, typ, b)
		if l < 0 {
			return nil, protowire.ParseError(l)
		}
		b = b[l:]
	}
	return found, nil
}
