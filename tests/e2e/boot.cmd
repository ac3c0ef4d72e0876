# ostick e2e: U-Boot boot script (mkimage -T script -> /boot/boot.scr, which distro_bootcmd
# finds on the bootable partition). It boots what libostree's uboot backend wrote:
# /boot/loader/uEnv.txt (kernel_image, ramdisk_image, bootargs for the default deployment;
# kernel_image2... for the rollback), read through the boot/loader symlink libostree swaps.
echo "ostick-e2e boot.scr: /boot/loader/uEnv.txt from ${devtype} ${devnum}:${distro_bootpart}"
load ${devtype} ${devnum}:${distro_bootpart} ${scriptaddr} /boot/loader/uEnv.txt
env import -t ${scriptaddr} ${filesize}
echo "ostick-e2e boot.scr: kernel_image=${kernel_image}"
echo "ostick-e2e boot.scr: bootargs=${bootargs}"
load ${devtype} ${devnum}:${distro_bootpart} ${kernel_addr_r} ${kernel_image}
# The initrd well above where the kernel decompresses itself (the default 64 MiB is overwritten).
setenv ramdisk_addr_r 0x10000000
load ${devtype} ${devnum}:${distro_bootpart} ${ramdisk_addr_r} ${ramdisk_image}
zboot ${kernel_addr_r} 0 ${ramdisk_addr_r} ${filesize}
