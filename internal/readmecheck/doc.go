// Package readmecheck holds the test that every Go snippet of the repository's
// README.md compiles as written, imports and credentials included. It has no code of
// its own.
package readmecheck
