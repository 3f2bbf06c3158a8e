package mykentik_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/mykentik"
)

// A stand-in for Kentik's V5 API, answering in the two shapes the documentation uses.
func exampleServer() *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v5/mykentik/tenants", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"tenants":[
			{"id":7,"name":"acme","cdate":"2018-10-11T22:52:05.833Z",
			 "users":[{"id":"42","user_email":"jane@example.com","tenant_id":"7"}]},
			{"id":"8","name":"globex","created_date":"2019-02-01T10:00:00Z","users":null}]}`)
	})
	mux.HandleFunc("GET /api/v5/mykentik/tenant/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":"Tenant not found"}`)
	})
	return httptest.NewServer(mux)
}

func Example() {
	srv := exampleServer()
	defer srv.Close()

	client, err := mykentik.New(context.Background(),
		mykentik.WithBaseURL(srv.URL), // "/api/v5" is appended to a bare host
		mykentik.WithCredentials(kentik.Credentials{Email: "ops@example.com", Token: "secret"}),
	)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	tenants, err := client.ListTenants(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range tenants {
		fmt.Printf("%d %s created %s, %d user(s)\n", t.ID, t.Name, t.Created.Format("2006-01-02"), len(t.Users))
	}

	_, err = client.GetTenant(ctx, 99)
	fmt.Println(kentik.IsNotFound(err))
	var apiErr *mykentik.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Message)
	}
	fmt.Println(err)
	// Output:
	// 7 acme created 2018-10-11, 1 user(s)
	// 8 globex created 2019-02-01, 0 user(s)
	// true
	// 404 Tenant not found
	// mykentik: GET /api/v5/mykentik/tenant/99: 404 Not Found: Tenant not found
}
