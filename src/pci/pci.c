/* A PCI function: built from its declaration, freed with its eventfds. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vdev/log.h"
#include "pci_internal.h"

static int check_config(const struct vdev_pci_config *cfg)
{
    int ret;

    if (cfg->n_vendor_caps > VDEV_PCI_MAX_VENDOR_CAPS ||
        cfg->n_vendor_ext_caps > VDEV_PCI_MAX_VENDOR_CAPS) {
        vdev_err("pci: too many vendor capabilities");
        return -EINVAL;
    }
    if (cfg->class_code > 0xffffff) {
        vdev_err("pci: class code 0x%x is more than 24 bits", cfg->class_code);
        return -EINVAL;
    }
    if (cfg->interrupt_pin > 4) {
        vdev_err("pci: interrupt pin %u is not INTA..INTD", cfg->interrupt_pin);
        return -EINVAL;
    }
    ret = pci_bars_check(cfg);
    if (ret < 0)
        return ret;
    return pci_msix_check(cfg);
}

static int build(struct vdev_pci *pci)
{
    int ret;

    pci_header_build(pci);
    ret = pci_caps_build(pci);
    if (ret == 0)
        ret = pci_msix_alloc(pci);
    if (ret < 0)
        return ret;
    memcpy(pci->reset_config, pci->config, sizeof(pci->config));
    return 0;
}

int vdev_pci_new(const struct vdev_pci_config *cfg, const struct vdev_pci_ops *ops,
                 void *opaque, struct vdev_pci **out)
{
    struct vdev_pci *pci;
    int ret;

    if (!cfg || !out)
        return -EINVAL;
    ret = check_config(cfg);
    if (ret < 0)
        return ret;
    pci = calloc(1, sizeof(*pci));
    if (!pci)
        return -ENOMEM;
    pci->cfg = *cfg;
    if (ops)
        pci->ops = *ops;
    pci->opaque = opaque;
    pci->cfg_size = cfg->pcie.present ? PCI_CFG_SPACE_EXP_SIZE : PCI_CFG_SPACE_SIZE;
    pci->intx_fd = -1;
    for (unsigned i = 0; i < PCI_MSI_MAX_VECTORS; i++)
        pci->msi_fd[i] = -1;
    pthread_mutex_init(&pci->lock, NULL);

    ret = build(pci);
    if (ret < 0) {
        vdev_pci_free(pci);
        return ret;
    }
    /* What the vendor data pointed to is in config space now. */
    for (unsigned i = 0; i < VDEV_PCI_MAX_VENDOR_CAPS; i++) {
        pci->cfg.vendor_caps[i].data = pci->cfg.vendor_caps[i].wmask = NULL;
        pci->cfg.vendor_ext_caps[i].data = NULL;
    }
    *out = pci;
    return 0;
}

void vdev_pci_free(struct vdev_pci *pci)
{
    if (!pci)
        return;
    pci_msix_free(pci);
    for (unsigned i = 0; i < PCI_MSI_MAX_VECTORS; i++)
        if (pci->msi_fd[i] >= 0)
            close(pci->msi_fd[i]);
    if (pci->intx_fd >= 0)
        close(pci->intx_fd);
    pthread_mutex_destroy(&pci->lock);
    free(pci);
}

size_t vdev_pci_config_size(const struct vdev_pci *pci)
{
    return pci->cfg_size;
}
