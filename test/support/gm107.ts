// The GM107 model's capability list as pciutils 3.9 `lspci -v` prints it (seed 000 printed the
// capability at 0x900, Secondary PCI Express, as "#19": older pciutils had no name for it).
export const GM107_CAPS_LSPCI_V = [
  'Capabilities: [60] Power Management version 3',
  'Capabilities: [68] MSI: Enable- Count=1/1 Maskable- 64bit+',
  'Capabilities: [78] Express Legacy Endpoint, MSI 00',
  'Capabilities: [100] Virtual Channel',
  'Capabilities: [250] Latency Tolerance Reporting',
  'Capabilities: [258] L1 PM Substates',
  'Capabilities: [128] Power Budgeting <?>',
  'Capabilities: [600] Vendor Specific Information: ID=0001 Rev=1 Len=024 <?>',
  'Capabilities: [900] Secondary PCI Express',
];
