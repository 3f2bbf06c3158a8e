// Package schema turns Kentik's published v6 schema into this project's proto/ tree and
// checks the two against each other.
//
// It reads a FileDescriptorSet (a buf image, binary or JSON), selects what the project
// serves (every file defining a public service, and the kentik.* files those import),
// renders each selected file as .proto text that compiles to the same descriptor, and
// compares descriptors field by field. The sync program (syncschema) and the conformance
// tests are built on it.
//
// What the project carries of Kentik's schema, and so what the comparison looks at: every
// name, number, type, label, json name, oneof, reserved range and name, map entry, nested
// type, enum, service, method and streaming flag, and every option except the openapiv2
// documentation options ([DocumentationOption]). What it does not carry: comments, file
// options (go_package and the like: buf's managed mode sets them), services that are not
// public, and imports nothing uses.
package schema

import "strings"

// PublicVisibility is the value of the kentik.core.v202303.visibility service option that
// marks a service Kentik publishes for its customers.
const PublicVisibility = "SERVICE_VISIBILITY_PUBLIC"

// VisibilityOption is Kentik's service option that says who may see a service.
const VisibilityOption = "kentik.core.v202303.visibility"

// documentationPackages are the packages whose options only document an API (OpenAPI
// annotations for Kentik's REST gateway); they carry no wire or routing meaning.
var documentationPackages = []string{"grpc.gateway.protoc_gen_openapiv2."}

// documentationFiles are the files only the documentation options need.
var documentationFiles = []string{"protoc-gen-openapiv2/"}

// DocumentationOption reports whether the option extension of the given full name is a
// documentation option the project leaves out.
func DocumentationOption(fullName string) bool {
	return hasAnyPrefix(fullName, documentationPackages)
}

// DocumentationFile reports whether the file of the given path only serves documentation
// options.
func DocumentationFile(path string) bool {
	return hasAnyPrefix(path, documentationFiles)
}

// WellKnownFile reports whether the file of the given path is one of protobuf's own,
// which every compiler (buf among them) provides.
func WellKnownFile(path string) bool {
	return strings.HasPrefix(path, "google/protobuf/")
}
