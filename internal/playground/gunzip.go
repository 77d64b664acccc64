package playground

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
)

// gunzipSeeker reads the uncompressed form of gzipped data of a known size
// without holding it in memory. http.ServeContent seeks to learn the size
// and to serve ranges: a seek backwards restarts decompression, a seek
// forwards decompresses and discards.
type gunzipSeeker struct {
	gzipped []byte
	size    int64
	pos     int64 // offset the next Read returns
	zr      *gzip.Reader
	zpos    int64 // offset zr is at
}

func newGunzipSeeker(gzipped []byte, size int64) *gunzipSeeker {
	return &gunzipSeeker{gzipped: gzipped, size: size}
}

func (g *gunzipSeeker) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += g.pos
	case io.SeekEnd:
		offset += g.size
	default:
		return 0, errors.New("gunzipSeeker: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("gunzipSeeker: negative position")
	}
	g.pos = offset
	return offset, nil
}

func (g *gunzipSeeker) Read(p []byte) (int, error) {
	if g.pos >= g.size {
		return 0, io.EOF
	}
	if g.zr == nil || g.zpos > g.pos {
		zr, err := gzip.NewReader(bytes.NewReader(g.gzipped))
		if err != nil {
			return 0, err
		}
		g.zr, g.zpos = zr, 0
	}
	if g.zpos < g.pos {
		n, err := io.CopyN(io.Discard, g.zr, g.pos-g.zpos)
		g.zpos += n
		if err != nil {
			return 0, err
		}
	}
	n, err := g.zr.Read(p)
	g.zpos += int64(n)
	g.pos = g.zpos
	if err == io.EOF && g.pos < g.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
