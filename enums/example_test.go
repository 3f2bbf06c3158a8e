package enums_test

import (
	"fmt"

	"github.com/gokentik/kentik/enums"
)

func ExampleParseConnectivityType() {
	for _, s := range []string{"transit", "TRANSIT", "CONNECTIVITY_TYPE_TRANSIT", "paid-pni"} {
		v, err := enums.ParseConnectivityType(s)
		fmt.Println(v, err)
	}
	_, err := enums.ParseNetworkBoundary("outside")
	fmt.Println(err)
	// Output:
	// CONNECTIVITY_TYPE_TRANSIT <nil>
	// CONNECTIVITY_TYPE_TRANSIT <nil>
	// CONNECTIVITY_TYPE_TRANSIT <nil>
	// CONNECTIVITY_TYPE_PAID_PNI <nil>
	// unknown network boundary "outside" (want one of: auto, external, internal, none, unspecified)
}
