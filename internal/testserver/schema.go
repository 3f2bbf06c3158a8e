package testserver

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	corev "github.com/gokentik/kentik/gen/kentik/core/v202303"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

// The stream method's schema is registered with the program's others, as a generated
// package registers its own: the client routes and retries a call by what the schema says
// of its method, so a method it does not know cannot be called. The method reads
// (its scope is "test:read"), so it is idempotent.
func init() {
	opts := &descriptorpb.MethodOptions{}
	proto.SetExtension(opts, corev.E_MethodScope, "test:read")
	fd := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("kentik/test/repeat.proto"),
		Package:    proto.String("kentik.test"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{ifacev1.File_kentik_interface_v202108alpha1_interface_proto.Path()},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("Repeat"),
			Method: []*descriptorpb.MethodDescriptorProto{{
				Name:            proto.String("Repeat"),
				InputType:       proto.String(".kentik.interface.v202108alpha1.GetInterfaceRequest"),
				OutputType:      proto.String(".kentik.interface.v202108alpha1.GetInterfaceResponse"),
				ServerStreaming: proto.Bool(true),
				Options:         opts,
			}},
		}},
	}
	f, err := protodesc.NewFile(fd, protoregistry.GlobalFiles)
	if err != nil {
		panic("testserver: " + err.Error())
	}
	if err := protoregistry.GlobalFiles.RegisterFile(f); err != nil {
		panic("testserver: " + err.Error())
	}
}
