// vcsim for jarvis's tests: VMware's own vCenter (or bare ESX) simulator from govmomi, served on
// 127.0.0.1 at a free port, with the given login and templates to clone from. Prints one JSON line
// on stdout ({"url": ..., "cert": ...}) once it answers, and exits when stdin closes, so a test
// that dies takes its simulator with it. Built in GOPATH mode against Debian's govmomi
// (test/integration/servers/vcsim.ts).
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/url"
	"os"
	"strings"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

func main() {
	esx := flag.Bool("esx", false, "simulate a bare ESX host instead of a vCenter")
	useTLS := flag.Bool("tls", true, "serve https with the simulator's own certificate")
	user := flag.String("username", "jarvis", "the one login the simulator accepts")
	templates := flag.String("templates", "", "comma-separated names of templates to create")
	flag.Parse()
	// The password comes from the environment so it never shows in a process listing.
	password := os.Getenv("VCSIM_PASSWORD")
	if password == "" {
		log.Fatal("vcsim: set VCSIM_PASSWORD")
	}

	model := simulator.VPX()
	if *esx {
		model = simulator.ESX()
	}
	defer model.Remove()
	if err := model.Create(); err != nil {
		log.Fatalf("vcsim: create inventory: %v", err)
	}
	model.Service.Listen = &url.URL{Host: "127.0.0.1:0", User: url.UserPassword(*user, password)}
	if *useTLS {
		model.Service.TLS = new(tls.Config)
	}
	server := model.Service.NewServer()
	defer server.Close()

	if *templates != "" {
		if err := makeTemplates(server.URL, strings.Split(*templates, ",")); err != nil {
			log.Fatalf("vcsim: templates: %v", err)
		}
	}

	out := map[string]string{"url": (&url.URL{Scheme: server.URL.Scheme, Host: server.URL.Host, Path: server.URL.Path}).String()}
	if *useTLS {
		cert, err := server.CertificateFile()
		if err != nil {
			log.Fatalf("vcsim: certificate: %v", err)
		}
		out["cert"] = cert
	}
	line, _ := json.Marshal(out)
	os.Stdout.Write(append(line, '\n'))
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// makeTemplates clones the inventory's first VM into each name and marks the clone a template,
// as an operator prepares one in vCenter.
func makeTemplates(u *url.URL, names []string) error {
	ctx := context.Background()
	c, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		return err
	}
	defer c.Logout(ctx)
	finder := find.NewFinder(c.Client, false)
	dc, err := finder.DefaultDatacenter(ctx)
	if err != nil {
		return err
	}
	finder.SetDatacenter(dc)
	vms, err := finder.VirtualMachineList(ctx, "*")
	if err != nil {
		return err
	}
	folders, err := dc.Folders(ctx)
	if err != nil {
		return err
	}
	for _, name := range names {
		task, err := vms[0].Clone(ctx, folders.VmFolder, name, types.VirtualMachineCloneSpec{})
		if err != nil {
			return err
		}
		info, err := task.WaitForResult(ctx, nil)
		if err != nil {
			return err
		}
		ref := info.Result.(types.ManagedObjectReference)
		if err := object.NewVirtualMachine(c.Client, ref).MarkAsTemplate(ctx); err != nil {
			return err
		}
	}
	return nil
}
