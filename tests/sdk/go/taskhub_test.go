package sdktests

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/microsoft/durabletask-go/api"
	"github.com/microsoft/durabletask-go/client"
	"github.com/microsoft/durabletask-go/task"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// dialTaskHub is a connection whose every call (unary, and the work-item stream) carries the
// header `taskhub: <hub>`: the SDK takes any grpc.ClientConnInterface, so the header is added by
// a unary and a stream interceptor.
func dialTaskHub(t *testing.T, hub string) *grpc.ClientConn {
	t.Helper()
	unary := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(metadata.AppendToOutgoingContext(ctx, "taskhub", hub), method, req, reply, cc, opts...)
	}
	stream := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return streamer(metadata.AppendToOutgoingContext(ctx, "taskhub", hub), desc, cc, method, opts...)
	}
	conn, err := grpc.Dial(address,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(unary),
		grpc.WithChainStreamInterceptor(stream))
	if err != nil {
		t.Fatalf("cannot dial %s: %v", address, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// TestTaskHub is sequential (no scenario()): it runs before the parallel scenarios resume, so
// before the default hub's listener starts, and an instance on the default hub stays PENDING.
func TestTaskHub(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hub := fmt.Sprintf("go-hub-%s", runID)
	hubRegistry := task.NewTaskRegistry()
	if err := hubRegistry.AddActivityN("HubHello", func(ctx task.ActivityContext) (any, error) {
		var name string
		if err := ctx.GetInput(&name); err != nil {
			return nil, err
		}
		return fmt.Sprintf("Hello from %s, %s!", hub, name), nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := hubRegistry.AddOrchestratorN("HubGreeting", func(ctx *task.OrchestrationContext) (any, error) {
		var name, greeting string
		if err := ctx.GetInput(&name); err != nil {
			return nil, err
		}
		err := ctx.CallActivity("HubHello", task.WithActivityInput(name)).Await(&greeting)
		return greeting, err
	}); err != nil {
		t.Fatal(err)
	}
	hubClient := client.NewTaskHubGrpcClient(dialTaskHub(t, hub), quietLogger{})
	listening, stop := context.WithCancel(context.Background())
	defer stop()
	if err := hubClient.StartWorkItemListener(listening, hubRegistry); err != nil {
		t.Fatalf("the %s work-item listener did not start: %v", hub, err)
	}
	greet := func(c *client.TaskHubGrpcClient, id api.InstanceID, name string) {
		t.Helper()
		if _, err := c.ScheduleNewOrchestration(ctx, "HubGreeting", api.WithInput(name), api.WithInstanceID(id)); err != nil {
			t.Fatalf("ScheduleNewOrchestration(%s): %v", id, err)
		}
	}
	completed := func(id api.InstanceID, name string) *api.OrchestrationMetadata {
		t.Helper()
		md, err := hubClient.WaitForOrchestrationCompletion(ctx, id, api.WithFetchPayloads(true))
		if err != nil {
			t.Fatalf("WaitForOrchestrationCompletion(%s) on %s: %v", id, hub, err)
		}
		expectStatus(t, md, api.RUNTIME_STATUS_COMPLETED)
		expectOutput(t, md, fmt.Sprintf(`"Hello from %s, %s!"`, hub, name))
		return md
	}

	// 1. Started on the hub, run by the hub's listener; the default hub has no such instance.
	id := newID(t, "")
	greet(hubClient, id, "one")
	completed(id, "one")
	if md, err := dt.FetchOrchestrationMetadata(ctx, id); !errors.Is(err, api.ErrInstanceNotFound) {
		t.Fatalf("the default hub sees the %s instance %s: %s, %v", hub, id, describe(md), err)
	}

	// 2. The same ID on the default hub (no default-hub listener yet): the hub's listener, still
	// serving its own hub, never receives it.
	greet(dt, id, "two")
	after := newID(t, "after")
	greet(hubClient, after, "three")
	completed(after, "three")
	time.Sleep(200 * time.Millisecond)
	expectStatus(t, fetch(t, ctx, id), api.RUNTIME_STATUS_PENDING)
	if md, err := hubClient.FetchOrchestrationMetadata(ctx, id, api.WithFetchPayloads(true)); err != nil || md.SerializedInput != `"one"` {
		t.Fatalf("%s's instance %s after the default hub's start: %s, %v", hub, id, describe(md), err)
	}

	// Clean up before the default hub's listener starts: terminated without a worker, then purged.
	if err := dt.TerminateOrchestration(ctx, id); err != nil {
		t.Fatalf("terminating the default hub's %s: %v", id, err)
	}
	expectStatus(t, waitDone(t, ctx, id), api.RUNTIME_STATUS_TERMINATED)
	if err := dt.PurgeOrchestrationState(ctx, id); err != nil {
		t.Fatalf("purging the default hub's %s: %v", id, err)
	}
	if _, err := dt.FetchOrchestrationMetadata(ctx, id); !errors.Is(err, api.ErrInstanceNotFound) {
		t.Fatalf("after purge, fetching the default hub's %s gave %v", id, err)
	}
}
