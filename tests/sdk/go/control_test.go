package sdktests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bufbuild/protocompile"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// The emulator's control service (durabletask.emulator.v1.EmulatorControl), beside
// TaskHubSidecarService on the same port. No generated Go code: the .proto the emulator ships
// (DTEMU_CONTROL_PROTO, or what `durabletask-emulator proto > control.proto` writes) is compiled
// when first needed with protocompile, and its messages are dynamicpb messages, sent with
// grpc.ClientConn.Invoke. Every request names its hub in the message (task_hub), not in a header.

const controlService = "durabletask.emulator.v1.EmulatorControl"

// hubTime is a TimeResponse: a hub's clock.
type hubTime struct {
	Hub      string
	Now      time.Time
	Offset   time.Duration // how far the hub's clock is ahead of the wall clock
	Skipping bool
}

type emulatorControl struct {
	conn    *grpc.ClientConn
	methods protoreflect.MethodDescriptors
}

var (
	controlOnce sync.Once
	theControl  *emulatorControl
	controlErr  error
)

// control is the shared EmulatorControl client (compiled and dialed once per test binary).
func control() (*emulatorControl, error) {
	controlOnce.Do(func() { theControl, controlErr = newControl(os.Getenv("DTEMU_CONTROL_PROTO")) })
	return theControl, controlErr
}

func newControl(protoPath string) (*emulatorControl, error) {
	if protoPath == "" {
		return nil, fmt.Errorf("DTEMU_CONTROL_PROTO is not set: point it at the emulator's control.proto (durabletask-emulator proto --path)")
	}
	compiler := protocompile.Compiler{
		// google/protobuf/duration.proto and timestamp.proto come with protocompile.
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{filepath.Dir(protoPath)}}),
	}
	files, err := compiler.Compile(context.Background(), filepath.Base(protoPath))
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", protoPath, err)
	}
	service := files[0].Services().ByName("EmulatorControl")
	if service == nil || string(service.FullName()) != controlService {
		return nil, fmt.Errorf("%s has no service %s", protoPath, controlService)
	}
	conn, err := grpc.Dial(address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("cannot dial %s: %w", address, err)
	}
	return &emulatorControl{conn: conn, methods: service.Methods()}, nil
}

// call invokes one EmulatorControl method with a request whose fields are set from fields
// (string, bool, or time.Duration for a google.protobuf.Duration field).
func (c *emulatorControl) call(ctx context.Context, method string, fields map[string]any) (protoreflect.Message, error) {
	md := c.methods.ByName(protoreflect.Name(method))
	if md == nil {
		return nil, fmt.Errorf("no method %s.%s", controlService, method)
	}
	req := dynamicpb.NewMessage(md.Input())
	for name, value := range fields {
		fd := req.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			return nil, fmt.Errorf("%s has no field %s", md.Input().FullName(), name)
		}
		switch v := value.(type) {
		case string:
			req.Set(fd, protoreflect.ValueOfString(v))
		case bool:
			req.Set(fd, protoreflect.ValueOfBool(v))
		case time.Duration:
			d := req.Mutable(fd).Message()
			setSecondsNanos(d, int64(v/time.Second), int32(v%time.Second))
		default:
			return nil, fmt.Errorf("field %s: cannot set a %T", name, value)
		}
	}
	resp := dynamicpb.NewMessage(md.Output())
	if err := c.conn.Invoke(ctx, fmt.Sprintf("/%s/%s", controlService, method), req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *emulatorControl) clock(ctx context.Context, method string, fields map[string]any) (hubTime, error) {
	resp, err := c.call(ctx, method, fields)
	if err != nil {
		return hubTime{}, err
	}
	get := func(name string) protoreflect.Value {
		return resp.Get(resp.Descriptor().Fields().ByName(protoreflect.Name(name)))
	}
	seconds, nanos := secondsNanos(get("now").Message())
	offsetSeconds, offsetNanos := secondsNanos(get("offset").Message())
	return hubTime{
		Hub:      get("task_hub").String(),
		Now:      time.Unix(seconds, int64(nanos)).UTC(),
		Offset:   time.Duration(offsetSeconds)*time.Second + time.Duration(offsetNanos),
		Skipping: get("time_skipping").Bool(),
	}, nil
}

// GetTime is the hub's current time.
func (c *emulatorControl) GetTime(ctx context.Context, hub string) (hubTime, error) {
	return c.clock(ctx, "GetTime", map[string]any{"task_hub": hub})
}

// AdvanceTime moves the hub's clock forward by d, firing every timer that comes due.
func (c *emulatorControl) AdvanceTime(ctx context.Context, hub string, d time.Duration) (hubTime, error) {
	return c.clock(ctx, "AdvanceTime", map[string]any{"task_hub": hub, "duration": d})
}

// SetTimeSkipping turns time skipping on or off for the hub.
func (c *emulatorControl) SetTimeSkipping(ctx context.Context, hub string, enabled bool) (hubTime, error) {
	return c.clock(ctx, "SetTimeSkipping", map[string]any{"task_hub": hub, "enabled": enabled})
}

// ResetTaskHub forgets the hub's instances, entities, queued work and timers.
func (c *emulatorControl) ResetTaskHub(ctx context.Context, hub string) error {
	_, err := c.call(ctx, "ResetTaskHub", map[string]any{"task_hub": hub})
	return err
}

// Duration and Timestamp are both {int64 seconds = 1; int32 nanos = 2;}.
func setSecondsNanos(m protoreflect.Message, seconds int64, nanos int32) {
	m.Set(m.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(seconds))
	m.Set(m.Descriptor().Fields().ByName("nanos"), protoreflect.ValueOfInt32(nanos))
}

func secondsNanos(m protoreflect.Message) (int64, int32) {
	return m.Get(m.Descriptor().Fields().ByName("seconds")).Int(), int32(m.Get(m.Descriptor().Fields().ByName("nanos")).Int())
}
