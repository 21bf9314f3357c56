package server

import (
	"errors"

	"listserv/listserv/config"
	"listserv/listserv/dkimsign"
)

// DKIMSigner loads the [dkim] key: nil when dkim.key_file is not set,
// and an error naming the file (the start fails) when it cannot be read
// or holds no usable key. Mail is signed for the lists' domain.
func DKIMSigner(cfg config.Config) (*dkimsign.Signer, error) {
	if cfg.DKIM.KeyFile == "" {
		if cfg.DKIM.Selector != "" {
			return nil, errors.New("dkim.selector is set but dkim.key_file is not")
		}
		return nil, nil
	}
	return dkimsign.Load(cfg.Domain, cfg.DKIM.Selector, cfg.DKIM.KeyFile)
}
