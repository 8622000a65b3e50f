package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/emptypb"
)

// unreachableError: reflection could not be asked (the server is down, refuses, or is too
// slow). The calls are then counted as failed with its status, not the probe.
type unreachableError struct{ err *status.Status }

func (e *unreachableError) Error() string { return e.err.Message() }

func asUnreachable(err error, target **unreachableError) bool { return errors.As(err, target) }

// errUnknown: the server answered, but does not describe the method (no reflection service, or
// it does not know the service or the method).
var errUnknown = errors.New("not described by the server's reflection")

// requestFor is the request the calls send and what their replies are decoded into: the
// method's own types from reflection, the body read into its input; or, when reflection does
// not describe the method and the body is empty, empty messages (every message decodes one as
// its defaults; an unknown method is answered UNIMPLEMENTED, which is what is measured).
func requestFor(conn *grpc.ClientConn, o options) (proto.Message, newMessage, string, error) {
	md, err := describe(conn, o)
	if errors.Is(err, errUnknown) {
		if d := strings.TrimSpace(o.data); d != "" && d != "{}" {
			return nil, nil, "", fmt.Errorf("%s is %v, so its body cannot be encoded: give an empty body ({}) to call it anyway", o.method, err)
		}
		return &emptypb.Empty{}, func() proto.Message { return &emptypb.Empty{} }, "none", nil
	}
	if err != nil {
		return nil, nil, "", err
	}
	if md.IsStreamingClient() || md.IsStreamingServer() {
		return nil, nil, "", fmt.Errorf("%s is a streaming method: the probe makes unary calls", o.method)
	}
	req := dynamicpb.NewMessage(md.Input())
	if err := protojson.Unmarshal([]byte(o.data), req); err != nil {
		return nil, nil, "", fmt.Errorf("the body is not a %s: %v", md.Input().FullName(), err)
	}
	out := md.Output()
	return req, func() proto.Message { return dynamicpb.NewMessage(out) }, "reflection", nil
}

// describe asks the server's reflection for the file that defines the method's service.
func describe(conn *grpc.ClientConn, o options) (protoreflect.MethodDescriptor, error) {
	svc, name, _ := strings.Cut(o.method, "/")
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	stream, err := rpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err == nil {
		err = stream.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: svc}})
	}
	var resp *rpb.ServerReflectionResponse
	if err == nil {
		resp, err = stream.Recv()
	}
	if err != nil {
		st := status.Convert(err)
		if st.Code() == codes.Unimplemented {
			return nil, fmt.Errorf("%w (the server has no reflection service)", errUnknown)
		}
		return nil, &unreachableError{err: st}
	}
	_ = stream.CloseSend()
	if e := resp.GetErrorResponse(); e != nil {
		return nil, fmt.Errorf("%w (service %s: %s)", errUnknown, svc, e.GetErrorMessage())
	}
	files, err := filesOf(resp.GetFileDescriptorResponse().GetFileDescriptorProto())
	if err != nil {
		return nil, fmt.Errorf("the server's reflection described %s in files that do not build: %v", svc, err)
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(svc))
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if err != nil || !ok {
		return nil, fmt.Errorf("%w (no service %s)", errUnknown, svc)
	}
	md := sd.Methods().ByName(protoreflect.Name(name))
	if md == nil {
		return nil, fmt.Errorf("%w (service %s has no method %s)", errUnknown, svc, name)
	}
	return md, nil
}

// filesOf builds the files reflection sent (the service's file and those it imports); an
// import it left out that this program knows (the well-known types) is taken from its own.
func filesOf(raw [][]byte) (*protoregistry.Files, error) {
	set := &descriptorpb.FileDescriptorSet{}
	have := map[string]bool{}
	for _, b := range raw {
		fd := &descriptorpb.FileDescriptorProto{}
		if err := proto.Unmarshal(b, fd); err != nil {
			return nil, err
		}
		if !have[fd.GetName()] {
			have[fd.GetName()] = true
			set.File = append(set.File, fd)
		}
	}
	for i := 0; i < len(set.File); i++ {
		for _, dep := range set.File[i].GetDependency() {
			if have[dep] {
				continue
			}
			if known, err := protoregistry.GlobalFiles.FindFileByPath(dep); err == nil {
				have[dep] = true
				set.File = append(set.File, protodesc.ToFileDescriptorProto(known))
			}
		}
	}
	return protodesc.NewFiles(set)
}
