# The second nested guest of the evacuation test: a boot sector that switches to 32-bit
# protected mode, fills 1–30 MiB of its 32 MiB with a non-zero pattern once, then halts. Its
# memory cannot be skipped as zero pages, so at 1 MiB/s (virsh migrate-setspeed) a live
# migration's first pass alone takes about 30 s: with a shorter migration_timeout it is a
# migration cut off halfway. (A guest that keeps dirtying its memory would not do: TCG's dirty
# tracking lets such a migration converge anyway.)
#   as --32 busy.S -o busy.o && ld -m elf_i386 -Ttext 0x7c00 --oformat binary busy.o
        .code16
        .text
        .globl _start
_start:
        cli
        xorw    %ax, %ax
        movw    %ax, %ds
        movw    %ax, %ss
        movw    $0x7c00, %sp
        inb     $0x92, %al          # fast A20
        orb     $2, %al
        andb    $0xfe, %al
        outb    %al, $0x92
        lgdt    gdtr
        movl    %cr0, %eax
        orl     $1, %eax
        movl    %eax, %cr0
        ljmp    $0x08, $protected
        .code32
protected:
        movw    $0x10, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movl    $0x100000, %edi
        movl    $(0x1e00000 - 0x100000) / 4, %ecx
        movl    $0x5a5a5a5a, %eax
        cld
        rep stosl
idle:
        hlt
        jmp     idle
        .p2align 3
gdt:
        .quad   0
        .quad   0x00cf9a000000ffff  # code: flat 4 GiB, 32-bit
        .quad   0x00cf92000000ffff  # data: flat 4 GiB
gdtr:
        .word   gdtr - gdt - 1
        .long   gdt
        .org    510
        .word   0xaa55
