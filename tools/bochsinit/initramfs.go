package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
)

// initramfsMain writes the guest's initramfs: an uncompressed newc cpio
// archive (the guest kernel would spend longer inflating a compressed one
// than the BIOS spends reading the extra bytes off the emulated CD).
func initramfsMain(args []string) error {
	fs := newFlagSet("initramfs")
	out := fs.String("o", "", "output `file`")
	nonce := fs.String("nonce", "", "marker nonce shared with watch")
	var env envFlag
	fs.Var(&env, "env", "`NAME=VALUE` for the binary's environment (repeatable)")
	var trees envFlag
	fs.Var(&trees, "tree", "`HOSTDIR=GUESTDIR`: copy a directory tree into the guest (repeatable)")
	dir := fs.String("dir", "", "the binary's working `directory` in the guest (created)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *nonce == "" || fs.NArg() < 1 {
		return errors.New("initramfs: need -o, -nonce and a binary")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bin := fs.Arg(0)
	cfg := config{
		Nonce: *nonce,
		Path:  "/bin/" + filepath.Base(bin),
		Args:  fs.Args()[1:],
		Env:   env,
		Dir:   *dir,
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return err
	}

	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	w := &cpioWriter{w: bufio.NewWriterSize(f, 1<<20)}
	for _, d := range []string{"dev", "proc", "sys", "tmp", "bin", "root"} {
		w.dir(d)
	}
	// The kernel opens /dev/console for init's stdio before init can mount
	// devtmpfs; a node in the archive needs no root to create.
	w.charDev("dev/console", 0o600, 5, 1)
	if err := w.file("init", 0o755, self); err != nil {
		return err
	}
	if err := w.file(cfg.Path[1:], 0o755, bin); err != nil {
		return err
	}
	w.bytes(configPath[1:], 0o644, cfgJSON)
	for _, t := range trees {
		host, guest, _ := strings.Cut(t, "=")
		if err := w.tree(host, guest); err != nil {
			return err
		}
	}
	if *dir != "" {
		w.dirs(*dir)
	}
	w.trailer()
	if w.err == nil {
		w.err = w.w.Flush()
	}
	if cerr := f.Close(); w.err == nil {
		w.err = cerr
	}
	return w.err
}

// cpioWriter writes the "newc" (SVR4, no CRC) format the kernel unpacks.
type cpioWriter struct {
	w   *bufio.Writer
	ino uint32
	err error
}

const (
	modeDir  = 0o040000
	modeReg  = 0o100000
	modeChar = 0o020000
)

func (c *cpioWriter) header(name string, mode, size, rdevMajor, rdevMinor uint32) {
	if c.err != nil {
		return
	}
	c.ino++
	nlink := uint32(1)
	if mode&0o170000 == modeDir {
		nlink = 2
	}
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	// devminor, rdevmajor, rdevminor, namesize (with the NUL), check.
	_, c.err = fmt.Fprintf(c.w, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		c.ino, mode, 0, 0, nlink, 0, size, 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	if c.err == nil {
		_, c.err = c.w.WriteString(name + "\x00")
	}
	c.pad(110 + len(name) + 1)
}

// pad aligns to 4 bytes after n bytes of header+name or of data.
func (c *cpioWriter) pad(n int) {
	if c.err == nil && n%4 != 0 {
		_, c.err = c.w.Write(make([]byte, 4-n%4))
	}
}

func (c *cpioWriter) dir(name string) { c.header(name, modeDir|0o755, 0, 0, 0) }

func (c *cpioWriter) charDev(name string, perm, major, minor uint32) {
	c.header(name, modeChar|perm, 0, major, minor)
}

func (c *cpioWriter) bytes(name string, perm uint32, data []byte) {
	c.header(name, modeReg|perm, uint32(len(data)), 0, 0)
	if c.err == nil {
		_, c.err = c.w.Write(data)
	}
	c.pad(len(data))
}

func (c *cpioWriter) file(name string, perm uint32, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() || st.Size() >= 1<<32 {
		return fmt.Errorf("%s: not a regular file under 4 GiB", path)
	}
	c.header(name, modeReg|perm, uint32(st.Size()), 0, 0)
	if c.err == nil {
		var n int64
		n, c.err = io.Copy(c.w, f)
		if c.err == nil && n != st.Size() {
			c.err = fmt.Errorf("%s: changed while being copied", path)
		}
	}
	c.pad(int(st.Size() % 4))
	return c.err
}

// dirs adds a guest directory and its parents (repeats are harmless: the
// kernel keeps the first).
func (c *cpioWriter) dirs(guest string) {
	guest = strings.Trim(filepath.Clean("/"+guest), "/")
	for i := range guest {
		if guest[i] == '/' {
			c.dir(guest[:i])
		}
	}
	if guest != "" {
		c.dir(guest)
	}
}

// tree copies the regular files and directories under host to guest.
func (c *cpioWriter) tree(host, guest string) error {
	c.dirs(guest)
	root := strings.Trim(filepath.Clean("/"+guest), "/")
	return filepath.WalkDir(host, func(path string, d iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(host, path)
		if err != nil || rel == "." {
			return err
		}
		name := filepath.ToSlash(filepath.Join(root, rel))
		switch {
		case d.IsDir():
			c.dir(name)
		case d.Type().IsRegular():
			return c.file(name, 0o644, path)
		}
		return nil
	})
}

func (c *cpioWriter) trailer() { c.header("TRAILER!!!", 0, 0, 0, 0) }
