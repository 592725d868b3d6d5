package v1

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/certs"
)

// CertificatesOutput lists the certificates: the uploaded ones, then each name the edge serves.
type CertificatesOutput struct {
	Body []certs.CertStatus
}

// UploadCertificateInput is an uploaded certificate.
type UploadCertificateInput struct {
	Body struct {
		CertPEM string `json:"cert_pem" doc:"the certificate chain in PEM, the leaf first" minLength:"1"`
		KeyPEM  string `json:"key_pem" doc:"its private key in PEM (PKCS#8, PKCS#1 or EC)" minLength:"1"`
	}
}

// CertificateOutput is one uploaded certificate.
type CertificateOutput struct {
	Status int
	Body   *certs.CertStatus
}

// CertificateIDInput names an uploaded certificate.
type CertificateIDInput struct {
	ID int64 `path:"id"`
}

func (a *API) registerCerts(api huma.API, mux *http.ServeMux) {
	tags := []string{"certificates"}
	huma.Register(api, huma.Operation{OperationID: "list-certificates", Method: http.MethodGet,
		Path: Prefix + "/certificates", Summary: "The certificates: uploaded ones, and each name the edge serves (admin)",
		Tags: tags}, a.listCertificates)
	huma.Register(api, huma.Operation{OperationID: "upload-certificate", Method: http.MethodPost,
		Path: Prefix + "/certificates", Summary: "Upload a certificate and its key, served for the names it covers (admin)",
		Tags: tags, DefaultStatus: http.StatusCreated}, a.uploadCertificate)
	huma.Register(api, huma.Operation{OperationID: "delete-certificate", Method: http.MethodDelete,
		Path: Prefix + "/certificates/{id}", Summary: "Remove an uploaded certificate (admin)", Tags: tags,
		DefaultStatus: http.StatusNoContent}, a.deleteCertificate)
	mux.HandleFunc("GET "+Prefix+"/ca.pem", a.caPEM)
}

func (a *API) certs() (*certs.Manager, error) {
	if a.certMgr == nil {
		return nil, fail(apperr.New(apperr.Unavailable, "Certificates are not running"))
	}
	return a.certMgr, nil
}

func (a *API) listCertificates(ctx context.Context, _ *struct{}) (*CertificatesOutput, error) {
	m, err := a.certs()
	if err != nil {
		return nil, err
	}
	list, err := m.List(ctx, actorOf(ctx))
	if err != nil {
		return nil, fail(err)
	}
	return &CertificatesOutput{Body: list}, nil
}

func (a *API) uploadCertificate(ctx context.Context, in *UploadCertificateInput) (*CertificateOutput, error) {
	m, err := a.certs()
	if err != nil {
		return nil, err
	}
	st, err := m.Upload(ctx, actorOf(ctx), in.Body.CertPEM, in.Body.KeyPEM)
	if err != nil {
		return nil, fail(err)
	}
	return &CertificateOutput{Status: http.StatusCreated, Body: st}, nil
}

func (a *API) deleteCertificate(ctx context.Context, in *CertificateIDInput) (*struct{}, error) {
	m, err := a.certs()
	if err != nil {
		return nil, err
	}
	if err := m.Delete(ctx, actorOf(ctx), in.ID); err != nil {
		return nil, fail(err)
	}
	return nil, nil
}

// caPEM serves the internal CA's root for devices to trust; it is public, as a root certificate is.
func (a *API) caPEM(w http.ResponseWriter, _ *http.Request) {
	if a.certMgr == nil {
		writeProblem(w, apperr.New(apperr.Unavailable, "Certificates are not running"))
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition", `attachment; filename="stackhub-ca.pem"`)
	_, _ = w.Write(a.certMgr.RootPEM())
}
